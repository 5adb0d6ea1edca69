import { type Peers, unary } from '@berth/clients';
import { conflict, invalidArgument, isNotFound, messageOf, notImplemented } from '@berth/errors';
import type { Logger } from '@berth/logging';
import type { netproxyV1 } from '@berth/proto';
import type { Containers } from './containers';
import type { Attachment, ContainerRecord, DockerConfig, HostConfig } from './model';

export type { Attachment } from './model';

export type NetworkChoice = { kind: 'host' } | { kind: 'none' } | { kind: 'container'; ref: string } | { kind: 'network'; name: string };

/** Docker's NetworkMode: "default" and "bridge" are the default bridge; anything else but host/none names a network. */
export function networkChoice(mode: string): NetworkChoice {
  if (mode === 'host') return { kind: 'host' };
  if (mode === 'none') return { kind: 'none' };
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    if (!ref) throw invalidArgument(`invalid network mode: ${mode}`);
    return { kind: 'container', ref };
  }
  return { kind: 'network', name: mode === 'default' ? 'bridge' : mode };
}

/** HostConfig.PortBindings and -P (every exposed port without a binding, on a free host port). */
export function portBindings(config: DockerConfig, hostConfig: HostConfig): netproxyV1.PortBinding[] {
  const out: netproxyV1.PortBinding[] = [];
  const given = (hostConfig.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  const keys = new Set(Object.keys(given));
  if (hostConfig.PublishAllPorts) for (const k of Object.keys(config.ExposedPorts ?? {})) keys.add(k);
  for (const key of keys) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalidArgument(`invalid port specification: "${key}"`);
    if (m[2] === 'sctp') throw notImplemented('sctp ports are not supported by Berth');
    const list = given[key]?.length ? given[key]! : [{ HostIp: '', HostPort: '' }];
    for (const b of list) {
      // A host range for one container port ("8000-8010:80"): netproxy takes a free one of it.
      const [from, to] = (b.HostPort ?? '').split('-');
      const hostPort = Number(from || 0);
      const hostPortEnd = to === undefined ? 0 : Number(to);
      if (![hostPort, hostPortEnd].every((n) => Number.isInteger(n) && n >= 0 && n <= 65535)) throw invalidArgument(`invalid port specification: "${b.HostPort}"`);
      out.push({ containerPort: Number(m[1]), protocol: m[2] ?? 'tcp', hostIp: b.HostIp ?? '', hostPort, hostPortEnd });
    }
  }
  return out;
}

/** The --ip and --network-alias of one network in a create body's NetworkingConfig. */
export function endpointSettings(networkingConfig: unknown, network: string): { ip: string; aliases: string[]; mac: string } {
  type Ep = { IPAMConfig?: { IPv4Address?: string } | null; Aliases?: string[] | null; MacAddress?: string } | null;
  const eps = (networkingConfig as { EndpointsConfig?: Record<string, Ep> } | null)?.EndpointsConfig;
  const ep = eps?.[network] ?? (network === 'bridge' ? eps?.default : undefined);
  return { ip: ep?.IPAMConfig?.IPv4Address ?? '', aliases: ep?.Aliases ?? [], mac: ep?.MacAddress ?? '' };
}

export interface AttachArgs {
  containerId: string;
  containerName: string;
  network: string;
  ip: string;
  aliases: string[];
  ports: netproxyV1.PortBinding[];
  /** Upstreams for the embedded DNS: the container's --dns, else the daemon's. */
  dns?: string[];
  /** `--mac-address`; empty for the address derived from the IP. */
  mac?: string;
}

export async function attach(peers: Peers, a: AttachArgs): Promise<Attachment> {
  const nets = peers.networks;
  if (a.ip && a.network === 'bridge') throw invalidArgument('user specified IP address is supported on user defined networks only');
  const ep = await unary('netproxy', nets.attach.bind(nets), {
    containerId: a.containerId,
    containerName: a.containerName,
    network: a.network,
    ipv4Address: a.ip,
    portBindings: a.ports,
    aliases: a.aliases,
    dnsServers: a.dns ?? [],
    macAddress: a.mac ?? '',
  }, { deadlineMs: 60_000, idempotent: false, waitForReady: true });
  return { ...ep, ports: ep.ports.map((p) => ({ ...p })), aliases: [...ep.aliases], requestedIp: a.ip || undefined };
}

/** `docker run --network a --network b`: every EndpointsConfig network past the first one. */
export async function attachExtraNetworks(peers: Peers, containerId: string, containerName: string, primary: string, networkingConfig: unknown, dns: string[]): Promise<Attachment[]> {
  const names = Object.keys((networkingConfig as { EndpointsConfig?: Record<string, unknown> } | null)?.EndpointsConfig ?? {});
  const out: Attachment[] = [];
  for (const network of names) {
    if (network === primary || (primary === 'bridge' && network === 'default')) continue;
    const eps = endpointSettings(networkingConfig, network);
    out.push(await attach(peers, { containerId, containerName, network, ip: eps.ip, aliases: eps.aliases, ports: [], dns, mac: eps.mac }));
  }
  return out;
}

export async function detach(peers: Peers, containerId: string, network: string): Promise<void> {
  const nets = peers.networks;
  await unary('netproxy', nets.detach.bind(nets), { containerId, network }, { deadlineMs: 60_000, idempotent: false, waitForReady: true });
}

/** Long enough for netproxy to come back from a restart; withRetry covers a longer absence. */
const RELEASE_DEADLINE_MS = 5000;

export async function release(peers: Peers, containerId: string): Promise<void> {
  const nets = peers.networks;
  await unary('netproxy', nets.release.bind(nets), { containerId }, { deadlineMs: RELEASE_DEADLINE_MS }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** NetworkSettings.Ports: every exposed or published port, with its host bindings or null. */
export function portMap(config: DockerConfig, attachments: Attachment[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const k of Object.keys(config.ExposedPorts ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const p of attachments.flatMap((a) => a.ports)) {
    const k = `${p.containerPort}/${p.protocol}`;
    (out[k] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  }
  return out;
}

/** Releases the networking of every container netproxy knows but `keep` does not name. */
export async function retain(peers: Peers, keep: string[]): Promise<string[]> {
  const nets = peers.networks;
  return (await unary('netproxy', nets.retain.bind(nets), { containerIds: keep }, { deadlineMs: 60_000 })).released;
}

/**
 * --network container:<ref>: the namespace to join. A bridged container's namespace is a
 * persistent file; a closed one's exists only while its process runs.
 */
export function joinTarget(rec: ContainerRecord, hostConfig: HostConfig, hostname: string): { rec: ContainerRecord; spec: { mode: 'host' } | { mode: 'path'; path: string } } {
  // Docker's checks: what the joined container already decides cannot be set again.
  if (hostname) throw invalidArgument('conflicting options: hostname and the network mode');
  if (hostConfig.Dns?.length) throw invalidArgument('conflicting options: dns and the network mode');
  if (hostConfig.ExtraHosts?.length) throw invalidArgument('conflicting options: custom host-to-IP mapping and the network mode');
  if (Object.keys(hostConfig.PortBindings ?? {}).length || hostConfig.PublishAllPorts) {
    throw invalidArgument('conflicting options: port publishing and the container type network mode');
  }
  if (rec.hostConfig.NetworkMode === 'host') return { rec, spec: { mode: 'host' } };
  const path = rec.networks?.[0]?.netnsPath;
  if (path) return { rec, spec: { mode: 'path', path } };
  if (rec.joinedContainer) throw invalidArgument(`cannot join the network of ${rec.name}: it joins another container's`);
  if (!rec.state.Running) throw conflict(`cannot join network namespace of a non running container: ${rec.id}`);
  return { rec, spec: { mode: 'path', path: `/proc/${rec.state.Pid}/ns/net` } };
}

/**
 * Publishes (the container starts) or unpublishes (it stopped) the container's ports and keeps
 * the record's view of them current. Returns false when the record is gone meanwhile.
 */
export async function setPublished(peers: Peers, containers: Containers, id: string, published: boolean): Promise<void> {
  const rec = containers.byId(id);
  if (!rec?.networks?.length) return;
  // A late (retried) unpublish must not take the ports of a container that has started again.
  if (!published && (rec.state.Running || !rec.networks.some((n) => n.ports.length))) return;
  const nets = peers.networks;
  const call = published ? nets.publish.bind(nets) : nets.unpublish.bind(nets);
  const out = await unary('netproxy', call, { containerId: id }, { deadlineMs: 60_000, idempotent: false, waitForReady: true });
  const now = containers.byId(id);
  // A start that overtook this unpublish has published again: its answer is the current one.
  if (!now?.networks || (!published && now.state.Running)) return;
  for (const a of now.networks) a.ports = (out.endpoints.find((e) => e.networkId === a.networkId)?.ports ?? []).map((p) => ({ ...p }));
  containers.save(now);
}
