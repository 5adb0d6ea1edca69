import { type Peers, unary } from '@berth/clients';
import type { Logger } from '@berth/logging';
import { conflict, invalidArgument, notFound } from '@berth/errors';
import type { Containers } from './containers';
import { withRetry } from './background-retry';
import { attach, detach, portBindings } from './network-attach';

/**
 * `docker network connect/disconnect`: netproxy does the plumbing (a running container's
 * namespace is persistent, so a new interface shows up at once); the record keeps the list.
 */
export class NetworkConnections {
  constructor(
    private readonly containers: Containers,
    private readonly peers: Peers,
    private readonly logger: Logger,
  ) {}

  async connect(ref: string, network: string, ip: string, aliases: string[]): Promise<void> {
    const rec = this.containers.get(ref);
    const mode = rec.hostConfig.NetworkMode ?? 'default';
    if (mode === 'host' || mode === 'none' || rec.joinedContainer) {
      throw invalidArgument('container sharing network namespace with another container or host cannot be connected to any other network');
    }
    if (rec.state.Status === 'removing') throw conflict(`container ${rec.id} is marked for removal`);
    const nets = rec.networks ?? [];
    // A container with no network left (compose disconnects and reconnects the primary one)
    // gets its published ports back on the network it joins first, as dockerd's sandbox does.
    const ports = nets.length === 0 ? portBindings(rec.config, rec.hostConfig) : [];
    const a = await attach(this.peers, { containerId: rec.id, containerName: rec.name, network, ip, aliases, ports });
    if (nets.some((n) => n.networkId === a.networkId)) throw conflict(`endpoint with name ${rec.name} already exists in network ${a.networkName}`);
    rec.networks = [...nets, a];
    this.containers.save(rec);
  }

  /** After a rename: names in network inspect and the embedded DNS follow. */
  async renamed(id: string): Promise<void> {
    const rec = this.containers.byId(id);
    if (!rec?.networks?.length) return;
    const nets = this.peers.networks;
    await withRetry(`rename ${id}`, () => unary('netproxy', nets.rename.bind(nets), { containerId: id, name: rec.name }), this.logger);
  }

  async disconnect(ref: string, network: string): Promise<void> {
    const rec = this.containers.get(ref);
    const nets = rec.networks ?? [];
    const n = nets.find((x) => x.networkName === network || x.networkId === network || (network.length >= 1 && x.networkId.startsWith(network)));
    if (!n) throw notFound(`container ${rec.id} is not connected to network ${network}`);
    await detach(this.peers, rec.id, n.networkId);
    rec.networks = nets.filter((x) => x !== n);
    this.containers.save(rec);
  }
}
