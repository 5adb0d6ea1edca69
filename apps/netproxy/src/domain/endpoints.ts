import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, invalidArgument, isConflict, messageOf, notFound } from '@berth/errors';
import { newId } from '@berth/ids';
import type { Logger } from '@berth/logging';
import type { RecordStore } from '@berth/store';
import { attachHostEnd, bridgePorts, deleteLink, ensureBridge, ensureNetns, ensureVeth, isNetnsMount, linkExists, removeNetns, type VethSpec, vethInside } from '../kernel/links';
import { applyRuleset, dnatPortsInUse, type NatState } from '../kernel/nat-rules';
import { EPHEMERAL_PORTS, hostPortFree } from './host-ports';
import { allocateIp } from './ipam';
import { macForIp, parseCidr, parseIp } from './ipv4';
import { ICC_OPTION, MASQUERADE_OPTION, MTU_OPTION, type NetworkRecord, type Networks } from './networks';

export interface PortRecord {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  /** Only in wanted bindings: the last port of a host range. */
  hostPortEnd?: number;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  ip: string;
  mac: string;
  /** Host side of the veth pair. */
  hostIf: string;
  /** Inside the namespace (records before it was kept are eth0). */
  ifName?: string;
  aliases: string[];
  /** The bindings asked for at attach (host port 0: any); published only while the container runs. */
  wantedPorts?: PortRecord[];
  /** Host ports published now: set by Publish, cleared by Unpublish. */
  ports: PortRecord[];
}

/** One container's network namespace and its endpoints; the durable IPAM and port state. */
export interface SandboxRecord {
  containerId: string;
  /** For network inspect and name resolution; as given at the first attach. */
  containerName?: string;
  /** The container's own upstream resolvers for the embedded DNS (--dns). */
  dnsServers?: string[];
  netnsPath: string;
  endpoints: EndpointRecord[];
}

export interface AttachInput {
  containerId: string;
  network: string;
  ipv4Address: string;
  portBindings: { containerPort: number; protocol: string; hostIp: string; hostPort: number; hostPortEnd: number }[];
  aliases: string[];
  containerName: string;
  dnsServers: string[];
  /** Empty for the address derived from the IP. */
  macAddress?: string;
}

export interface EndpointView {
  endpointId: string;
  networkId: string;
  networkName: string;
  netnsPath: string;
  ipv4Address: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  ports: (PortRecord & { hostPortEnd: number })[];
  bridge: string;
  aliases: string[];
  dnsServer: string;
}

export interface EndpointsOptions {
  netnsDir: string;
  table: string;
  mtu: number;
  firewall: 'nftables' | 'none';
  logger: Logger;
  /** Publishes a Docker network event (connect, disconnect); never throws. */
  event?: NetworkEvent;
}

export type NetworkEvent = (action: string, net: NetworkRecord, attributes: Record<string, string>) => void;

/** Checks the bindings' protocols and addresses; 0.0.0.0 is kept as "" (every address). */
function normalizeBindings(bindings: AttachInput['portBindings']): PortRecord[] {
  return bindings.map((b) => {
    const protocol = b.protocol === 'udp' ? 'udp' : b.protocol === 'tcp' || b.protocol === '' ? 'tcp' : undefined;
    if (!protocol) throw invalidArgument(`invalid proto: ${b.protocol}`);
    if (b.hostIp) parseIp(b.hostIp);
    if (b.containerPort < 1 || b.containerPort > 65535 || b.hostPort > 65535 || b.hostPortEnd > 65535) throw invalidArgument(`invalid port specification: "${b.containerPort}"`);
    if (b.hostPortEnd && b.hostPortEnd < b.hostPort) throw invalidArgument(`invalid port range: ${b.hostPort}-${b.hostPortEnd}`);
    const out: PortRecord = { containerPort: b.containerPort, protocol, hostIp: b.hostIp === '0.0.0.0' ? '' : b.hostIp, hostPort: b.hostPort };
    if (b.hostPortEnd > b.hostPort) out.hostPortEnd = b.hostPortEnd;
    return out;
  });
}

/** Container IDs name files under the exec root: nothing else may pass. */
function checkContainerId(id: string): void {
  if (!/^[0-9a-f]{64}$/.test(id)) throw invalidArgument(`invalid container ID: ${JSON.stringify(id)}`);
}

/** Host veth names are derived from container and network, so a restart finds them again. */
function hostIfName(containerId: string, networkId: string): string {
  return `vb${createHash('sha256').update(`${containerId}/${networkId}`).digest('hex').slice(0, 10)}`;
}

/**
 * The bridge driver: gives containers endpoints on bridge networks. Records are written before
 * the kernel is touched and deleted after it is cleaned, so reconciliation can always finish
 * what a crash interrupted.
 */
export class Endpoints {
  private rules: Promise<void> = Promise.resolve();
  private publishing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RecordStore<SandboxRecord>,
    private readonly networks: Networks,
    private readonly o: EndpointsOptions,
  ) {}

  private mtu(net: NetworkRecord): number {
    return Number(net.options[MTU_OPTION]) || this.o.mtu;
  }

  private usedIps(net: NetworkRecord): Set<string> {
    const used = new Set(net.ipam.map((i) => i.gateway));
    for (const sb of this.store.values()) for (const ep of sb.endpoints) if (ep.networkId === net.id) used.add(ep.ip);
    return used;
  }

  private allPorts(): PortRecord[] {
    return this.store.values().flatMap((sb) => sb.endpoints.flatMap((e) => e.ports));
  }

  private view(sb: SandboxRecord, ep: EndpointRecord): EndpointView {
    const net = this.networks.byId(ep.networkId);
    const ipam = net?.ipam[0];
    return {
      endpointId: ep.id,
      networkId: ep.networkId,
      networkName: net?.name ?? '',
      netnsPath: sb.netnsPath,
      ipv4Address: ep.ip,
      prefixLen: ipam ? parseCidr(ipam.subnet).prefix : 0,
      gateway: ipam?.gateway ?? '',
      macAddress: ep.mac,
      ports: ep.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, hostPortEnd: 0 })),
      bridge: net?.bridge ?? '',
      aliases: ep.aliases,
      // Containers on user-defined networks resolve each other through the embedded DNS server.
      dnsServer: net && net.name !== 'bridge' ? (ipam?.gateway ?? '') : '',
    };
  }

  /** Chooses host ports for the bindings, refusing ones another container or a host process holds. */
  private async choosePorts(bindings: PortRecord[], containerIp: string): Promise<PortRecord[]> {
    const taken = this.allPorts();
    const forwarded = this.o.firewall === 'nftables' ? await dnatPortsInUse() : new Set<string>();
    const out: PortRecord[] = [];
    const clash = (p: PortRecord, q: PortRecord) =>
      p.protocol === q.protocol && p.hostPort === q.hostPort && (!p.hostIp || !q.hostIp || p.hostIp === '0.0.0.0' || q.hostIp === '0.0.0.0' || p.hostIp === q.hostIp);
    for (const b of bindings) {
      const { protocol, hostIp } = b;
      const shown = `${hostIp || '0.0.0.0'}`;
      if (b.hostPort && !(b.hostPortEnd && b.hostPortEnd > b.hostPort)) {
        const p: PortRecord = { containerPort: b.containerPort, protocol, hostIp, hostPort: b.hostPort };
        if ([...taken, ...out].some((q) => clash(p, q)) || forwarded.has(`${protocol}/${b.hostPort}`)) {
          throw conflict(`Bind for ${shown}:${b.hostPort} failed: port is already allocated`);
        }
        if (!(await hostPortFree(hostIp, b.hostPort, protocol))) {
          throw conflict(`failed to bind host port for ${shown}:${b.hostPort}:${containerIp}:${b.containerPort}/${protocol}: address already in use`);
        }
        out.push(p);
        continue;
      }
      const first = b.hostPort || EPHEMERAL_PORTS.first;
      const last = b.hostPort ? b.hostPortEnd! : EPHEMERAL_PORTS.last;
      let chosen: PortRecord | undefined;
      for (let port = first; port <= last && !chosen; port++) {
        const p: PortRecord = { containerPort: b.containerPort, protocol, hostIp, hostPort: port };
        if ([...taken, ...out].some((q) => clash(p, q)) || forwarded.has(`${protocol}/${port}`)) continue;
        if (await hostPortFree(hostIp, port, protocol)) chosen = p;
      }
      if (!chosen) throw conflict(`Bind for ${shown}:${b.hostPort ? `${first}-${last}` : 0} failed: port is already allocated`);
      out.push(chosen);
    }
    return out;
  }

  async attach(req: AttachInput): Promise<EndpointView> {
    checkContainerId(req.containerId);
    const net = this.networks.find(req.network || 'bridge');
    if (net.driver === 'host' || net.driver === 'null') throw invalidArgument(`container cannot be connected to network ${net.name}: it is not a bridge network`);
    if (net.driver !== 'bridge' || !net.bridge || !net.ipam[0]) throw invalidArgument(`network ${net.name} is not a bridge network`);
    const existing = this.store.get(req.containerId);
    const already = existing?.endpoints.find((e) => e.networkId === net.id);
    if (existing && already) return this.view(existing, already);
    // Everything up to the record write is synchronous, so two attaches cannot take the same address.
    const ip = allocateIp(net.ipam[0], this.usedIps(net), req.ipv4Address);
    for (const d of req.dnsServers) parseIp(d);
    const mac = req.macAddress ? parseMac(req.macAddress) : macForIp(parseIp(ip));
    const sb: SandboxRecord = existing ?? {
      containerId: req.containerId, containerName: req.containerName, dnsServers: req.dnsServers, netnsPath: join(this.o.netnsDir, req.containerId), endpoints: [],
    };
    if (req.aliases.some((a) => !a || a.length > 255)) throw invalidArgument('invalid network alias');
    const inUse = new Set(sb.endpoints.map((e) => e.ifName ?? 'eth0'));
    let n = 0;
    while (inUse.has(`eth${n}`)) n++;
    const ep: EndpointRecord = {
      id: newId(), networkId: net.id, ip, mac, hostIf: hostIfName(req.containerId, net.id), ifName: `eth${n}`, aliases: req.aliases,
      wantedPorts: normalizeBindings(req.portBindings), ports: [],
    };
    sb.endpoints.push(ep);
    this.store.put(sb.containerId, sb);
    try {
      await this.plumb(sb, ep, net);
    } catch (err) {
      await this.detachEndpoint(sb, ep).catch((e: unknown) => this.o.logger.warn({ err: messageOf(e) }, 'undoing a failed attach'));
      throw err;
    }
    this.connectEvent('connect', sb.containerId, ep.networkId);
    return this.view(sb, ep);
  }

  private async plumb(sb: SandboxRecord, ep: EndpointRecord, net: NetworkRecord): Promise<void> {
    const ipam = net.ipam[0]!;
    const v: VethSpec = {
      netnsPath: sb.netnsPath,
      hostIf: ep.hostIf,
      bridge: net.bridge!,
      cidr: `${ep.ip}/${parseCidr(ipam.subnet).prefix}`,
      gateway: ipam.gateway,
      mac: ep.mac,
      mtu: this.mtu(net),
      ifName: ep.ifName ?? 'eth0',
      defaultRoute: this.routesVia(sb) === ep,
    };
    if (await ensureNetns(sb.netnsPath, vethInside(v))) {
      await attachHostEnd(v);
    } else {
      await ensureVeth(v);
    }
  }

  /** The endpoint that carries the default route: the first one on a non-internal network. */
  private routesVia(sb: SandboxRecord): EndpointRecord | undefined {
    return sb.endpoints.find((e) => !this.networks.byId(e.networkId)?.internal);
  }

  /** Docker's connect/disconnect events: the network is the actor, the container an attribute. */
  private connectEvent(action: 'connect' | 'disconnect', containerId: string, networkId: string): void {
    const net = this.networks.byId(networkId);
    if (net) this.o.event?.(action, net, { container: containerId, name: net.name, type: net.driver });
  }

  private async detachEndpoint(sb: SandboxRecord, ep: EndpointRecord, announce = false): Promise<void> {
    const hadPorts = ep.ports.length > 0;
    await deleteLink(ep.hostIf);
    if (announce) this.connectEvent('disconnect', sb.containerId, ep.networkId);
    sb.endpoints = sb.endpoints.filter((e) => e !== ep);
    if (sb.endpoints.length === 0) {
      await removeNetns(sb.netnsPath);
      this.store.delete(sb.containerId);
    } else {
      this.store.put(sb.containerId, sb);
    }
    if (hadPorts) await this.syncRules();
  }

  /**
   * Publishes the container's wanted ports (it is starting). One at a time: the check for a
   * taken host port and the record write must not interleave with another container's.
   */
  publish(containerId: string): Promise<EndpointView[]> {
    checkContainerId(containerId);
    const next = this.publishing.catch(() => undefined).then(async () => {
      const sb = this.sandbox(containerId);
      const chosen = new Map<EndpointRecord, PortRecord[]>();
      for (const ep of sb.endpoints) {
        if (ep.ports.length || !ep.wantedPorts?.length) continue;
        try {
          chosen.set(ep, await this.choosePorts(ep.wantedPorts, ep.ip));
        } catch (err) {
          const name = sb.containerName ?? containerId.slice(0, 12);
          if (!isConflict(err)) throw err;
          throw conflict(`driver failed programming external connectivity on endpoint ${name} (${ep.id}): ${messageOf(err)}`);
        }
      }
      for (const [ep, ports] of chosen) ep.ports = ports;
      if (chosen.size) {
        this.store.put(sb.containerId, sb);
        await this.syncRules();
      }
      return sb.endpoints.map((ep) => this.view(sb, ep));
    });
    this.publishing = next;
    return next;
  }

  /**
   * In the same queue as publish: a publish that ran while the kernel still had the rules this
   * call is removing would read its own container's old port as taken (a restart's start
   * racing its exit's unpublish).
   */
  unpublish(containerId: string): Promise<EndpointView[]> {
    checkContainerId(containerId);
    const next = this.publishing.catch(() => undefined).then(async () => {
      const sb = this.store.get(containerId);
      if (!sb) return [];
      if (sb.endpoints.some((e) => e.ports.length)) {
        for (const ep of sb.endpoints) ep.ports = [];
        this.store.put(sb.containerId, sb);
        await this.syncRules();
      }
      return sb.endpoints.map((ep) => this.view(sb, ep));
    });
    this.publishing = next;
    return next;
  }

  rename(containerId: string, name: string): void {
    checkContainerId(containerId);
    const sb = this.store.get(containerId);
    if (!sb) return;
    sb.containerName = name;
    this.store.put(containerId, sb);
  }

  /** Removes one endpoint (docker network disconnect). */
  async detach(containerId: string, ref: string): Promise<void> {
    checkContainerId(containerId);
    const net = this.networks.find(ref);
    const sb = this.store.get(containerId);
    const ep = sb?.endpoints.find((e) => e.networkId === net.id);
    if (!sb || !ep) throw notFound(`container ${containerId} is not connected to network ${net.name}`);
    await this.detachEndpoint(sb, ep, true);
  }

  async release(containerId: string): Promise<void> {
    checkContainerId(containerId);
    const sb = this.store.get(containerId);
    if (!sb) return;
    const hadPorts = sb.endpoints.some((e) => e.ports.length);
    for (const ep of [...sb.endpoints]) await deleteLink(ep.hostIf);
    await removeNetns(sb.netnsPath);
    this.store.delete(containerId);
    for (const ep of sb.endpoints) this.connectEvent('disconnect', containerId, ep.networkId);
    if (hadPorts) await this.syncRules();
  }

  async retain(keep: Set<string>): Promise<string[]> {
    const gone = this.store.values().map((sb) => sb.containerId).filter((id) => !keep.has(id));
    for (const id of gone) await this.release(id);
    return gone;
  }

  /** The resolvers a container (known by its address on a network) asked for with --dns. */
  upstreamsOf(networkId: string, ip: string): string[] {
    const sb = this.store.values().find((x) => x.endpoints.some((e) => e.networkId === networkId && e.ip === ip));
    return sb?.dnsServers ?? [];
  }

  /** Addresses that a name (container name, alias or short ID) stands for on a network. */
  resolve(networkId: string, name: string): string[] | undefined {
    const hits: string[] = [];
    for (const sb of this.store.values()) {
      for (const ep of sb.endpoints) {
        if (ep.networkId !== networkId) continue;
        const names = [sb.containerName ?? '', sb.containerId.slice(0, 12), ...ep.aliases].map((n) => n.toLowerCase());
        if (names.includes(name)) hits.push(ep.ip);
      }
    }
    return hits.length ? hits : undefined;
  }

  /** Endpoints of a network, for `network inspect` and `network rm`. */
  endpointsOn(networkId: string): { containerId: string; containerName: string; endpoint: EndpointRecord }[] {
    return this.store.values().flatMap((sb) =>
      sb.endpoints.filter((e) => e.networkId === networkId).map((endpoint) => ({ containerId: sb.containerId, containerName: sb.containerName ?? '', endpoint })),
    );
  }

  private natState(): NatState {
    const nets = this.networks.list().filter((n) => n.driver === 'bridge' && n.bridge && n.ipam[0]);
    const ports: NatState['ports'] = [];
    for (const sb of this.store.values()) {
      for (const ep of sb.endpoints) {
        const bridge = this.networks.byId(ep.networkId)?.bridge;
        if (!bridge) continue;
        for (const p of ep.ports) ports.push({ ...p, containerIp: ep.ip, bridge });
      }
    }
    return {
      networks: nets.map((n) => ({
        bridge: n.bridge!,
        subnet: n.ipam[0]!.subnet,
        internal: n.internal,
        icc: n.options[ICC_OPTION] !== 'false',
        masquerade: n.options[MASQUERADE_OPTION] !== 'false',
      })),
      ports,
    };
  }

  /** Replaces the whole rule table from the records; runs one at a time, always with the latest state. */
  syncRules(): Promise<void> {
    if (this.o.firewall === 'none') return Promise.resolve();
    const next = this.rules.catch(() => undefined).then(() => applyRuleset(this.o.table, this.natState()));
    this.rules = next;
    return next;
  }

  /** Brings a bridge network's interface up (idempotent). */
  async ensureNetwork(net: NetworkRecord): Promise<void> {
    const ipam = net.ipam[0];
    if (!net.bridge || !ipam) return;
    await ensureBridge(net.bridge, `${ipam.gateway}/${parseCidr(ipam.subnet).prefix}`, this.mtu(net));
  }

  /**
   * After a crash or a reboot: bridges up, every recorded endpoint plumbed (a namespace lost to a
   * reboot is made again, a missing veth recreated), strays from interrupted removals deleted,
   * and the rule table rewritten.
   */
  async reconcile(): Promise<void> {
    const nets = this.networks.list().filter((n) => n.driver === 'bridge');
    // One broken network (its bridge name taken by something else) must not keep the rest down.
    for (const n of nets) await this.ensureNetwork(n).catch((err: unknown) => this.o.logger.error({ network: n.name, err: messageOf(err) }, 'could not bring a bridge up'));
    const wanted = new Set<string>();
    for (const sb of this.store.values()) {
      for (const ep of [...sb.endpoints]) {
        const net = this.networks.byId(ep.networkId);
        if (!net) {
          sb.endpoints = sb.endpoints.filter((e) => e !== ep);
          continue;
        }
        wanted.add(ep.hostIf);
        if (isNetnsMount(sb.netnsPath) && (await linkExists(ep.hostIf))) continue;
        await this.plumb(sb, ep, net).catch((err: unknown) => this.o.logger.error({ id: sb.containerId, err: messageOf(err) }, 'could not restore an endpoint'));
      }
      if (sb.endpoints.length === 0) await this.release(sb.containerId);
    }
    for (const n of nets) {
      for (const port of await bridgePorts(n.bridge!)) if (port.startsWith('vb') && !wanted.has(port)) await deleteLink(port);
    }
    let files: string[] = [];
    try {
      files = readdirSync(this.o.netnsDir);
    } catch {
      // none made yet
    }
    for (const f of files) if (!this.store.has(f)) await removeNetns(join(this.o.netnsDir, f));
    await this.syncRules();
  }

  sandbox(containerId: string): SandboxRecord {
    const sb = this.store.get(containerId);
    if (!sb) throw notFound(`container ${containerId} has no network endpoints`);
    return sb;
  }
}

/** `--mac-address`: six hex pairs, unicast (a multicast address cannot be an interface's). */
export function parseMac(s: string): string {
  const m = /^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$/i.exec(s);
  if (!m) throw invalidArgument(`invalid MAC address: ${s}`);
  const mac = s.toLowerCase().replace(/-/g, ':');
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalidArgument(`invalid MAC address: ${s}: a multicast address cannot be assigned`);
  return mac;
}
