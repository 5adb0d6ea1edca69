import { type Peers, unary } from '@berth/clients';
import { invalidArgument, isNotFound, notImplemented } from '@berth/errors';
import type { netproxyV1 } from '@berth/proto';
import type { DockerConfig, HostConfig } from './model';

/** What a container got from netproxy, kept in its record for inspect, ps and port. */
export interface Attachment {
  endpointId: string;
  networkId: string;
  networkName: string;
  netnsPath: string;
  ipv4Address: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  bridge: string;
  ports: { containerPort: number; protocol: string; hostIp: string; hostPort: number }[];
}

export type NetworkChoice = { kind: 'host' } | { kind: 'none' } | { kind: 'network'; name: string };

/** Docker's NetworkMode: "default" and "bridge" are the default bridge; anything else but host/none names a network. */
export function networkChoice(mode: string): NetworkChoice {
  if (mode === 'host') return { kind: 'host' };
  if (mode === 'none') return { kind: 'none' };
  if (mode.startsWith('container:')) throw notImplemented(`network mode "${mode}" is not supported by Berth yet`);
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
      // A host range for one container port ("8000-8010:80"): the first port of it.
      const hostPort = Number((b.HostPort ?? '').split('-')[0] || 0);
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw invalidArgument(`invalid port specification: "${b.HostPort}"`);
      out.push({ containerPort: Number(m[1]), protocol: m[2] ?? 'tcp', hostIp: b.HostIp ?? '', hostPort });
    }
  }
  return out;
}

export async function attach(peers: Peers, containerId: string, network: string, config: DockerConfig, hostConfig: HostConfig): Promise<Attachment> {
  const nets = peers.networks;
  const ep = await unary('netproxy', nets.attach.bind(nets), {
    containerId,
    network,
    ipv4Address: '',
    portBindings: portBindings(config, hostConfig),
    aliases: [],
  }, { deadlineMs: 60_000, idempotent: false });
  return { ...ep, ports: ep.ports.map((p) => ({ ...p })) };
}

export async function release(peers: Peers, containerId: string): Promise<void> {
  const nets = peers.networks;
  await unary('netproxy', nets.release.bind(nets), { containerId }, { deadlineMs: 60_000 }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** NetworkSettings.Ports: every exposed or published port, with its host bindings or null. */
export function portMap(config: DockerConfig, a: Attachment | undefined): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const k of Object.keys(config.ExposedPorts ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const p of a?.ports ?? []) {
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
