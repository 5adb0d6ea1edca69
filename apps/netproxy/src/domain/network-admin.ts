import type { BerthConfig } from '@berth/config';
import { permissionDenied } from '@berth/errors';
import { deleteLink } from '../kernel/links';
import { hostRouteDestinations } from '../kernel/routes';
import type { EmbeddedDns } from './embedded-dns';
import type { Endpoints, NetworkEvent } from './endpoints';
import { parseCidr } from './ipv4';
import type { CreateNetworkInput, NetworkRecord, Networks } from './networks';

/** The network-level operations: what `docker network create/rm/prune` do in the kernel and the records. */
export class NetworkAdmin {
  constructor(
    private readonly networks: Networks,
    private readonly endpoints: Endpoints,
    private readonly config: BerthConfig,
    private readonly dns: EmbeddedDns,
    private readonly event: NetworkEvent = () => undefined,
  ) {}

  /** Serves DNS on every user-defined bridge network (at start, and after create). */
  async serveDns(rec: NetworkRecord): Promise<void> {
    if (rec.driver !== 'bridge' || rec.name === 'bridge' || !rec.ipam[0]) return;
    await this.dns.serve(rec.id, rec.ipam[0].gateway);
  }

  async create(req: CreateNetworkInput): Promise<NetworkRecord> {
    const rec = this.networks.create(req, this.config.defaultAddressPools, await hostRouteDestinations());
    try {
      await this.endpoints.ensureNetwork(rec);
      await this.endpoints.syncRules();
      await this.serveDns(rec);
    } catch (err) {
      this.dns.stop(rec.id);
      await deleteLink(rec.bridge!).catch(() => undefined);
      this.networks.remove(rec);
      throw err;
    }
    this.event('create', rec, { name: rec.name, type: rec.driver });
    return rec;
  }

  async remove(ref: string): Promise<void> {
    const rec = this.networks.find(ref);
    if (this.networks.isPredefined(rec)) throw permissionDenied(`${rec.name} is a pre-defined network and cannot be removed`);
    if (this.endpoints.endpointsOn(rec.id).length > 0) {
      throw permissionDenied(`error while removing network: network ${rec.name} id ${rec.id} has active endpoints`);
    }
    // Record first: a crash after it leaves a bridge that reconciliation no longer wants.
    this.networks.remove(rec);
    this.dns.stop(rec.id);
    if (rec.bridge) await deleteLink(rec.bridge);
    await this.endpoints.syncRules();
    this.event('destroy', rec, { name: rec.name, type: rec.driver });
  }

  async prune(labels: string[], notLabels: string[], untilUnixMs: number): Promise<string[]> {
    const match = (rec: NetworkRecord, l: string) => {
      const [k, v] = l.split('=', 2) as [string, string | undefined];
      return k in rec.labels && (v === undefined || rec.labels[k] === v);
    };
    const gone: string[] = [];
    for (const rec of this.networks.list()) {
      if (this.networks.isPredefined(rec) || this.endpoints.endpointsOn(rec.id).length > 0) continue;
      if (!labels.every((l) => match(rec, l)) || notLabels.some((l) => match(rec, l))) continue;
      if (untilUnixMs > 0 && rec.createdUnixMs >= untilUnixMs) continue;
      await this.remove(rec.id);
      gone.push(rec.name);
    }
    return gone;
  }

  /** A network with its endpoints, as the contract's Network message. */
  view(rec: NetworkRecord) {
    const prefix = rec.ipam[0] ? parseCidr(rec.ipam[0].subnet).prefix : 0;
    return {
      ...rec,
      bridge: rec.bridge ?? '',
      endpoints: this.endpoints.endpointsOn(rec.id).map((e) => ({
        containerId: e.containerId,
        containerName: e.containerName,
        endpointId: e.endpoint.id,
        macAddress: e.endpoint.mac,
        ipv4Cidr: `${e.endpoint.ip}/${prefix}`,
        aliases: e.endpoint.aliases,
      })),
    };
  }
}
