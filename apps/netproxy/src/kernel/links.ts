import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMounted } from '@berth/rootfs';
import { mustRun, runCommand } from './run-command';

/**
 * Kernel network objects a container's networking is made of: bridges, veth pairs and network
 * namespaces bind-mounted on files, so that they live on when every Berth process is gone.
 * Each call is idempotent, since reconciliation repeats them after a crash.
 */

export async function linkExists(name: string): Promise<boolean> {
  return (await runCommand('ip', ['link', 'show', 'dev', name])).code === 0;
}

export async function ensureBridge(name: string, gatewayCidr: string, mtu: number): Promise<void> {
  if (!(await linkExists(name))) {
    const r = await runCommand('ip', ['link', 'add', 'name', name, 'mtu', String(mtu), 'type', 'bridge']);
    if (r.code !== 0 && !(await linkExists(name))) throw new Error(`creating bridge ${name}: ${r.stderr.trim()}`);
  }
  await mustRun('ip', ['addr', 'replace', gatewayCidr, 'dev', name]);
  await mustRun('ip', ['link', 'set', 'dev', name, 'up']);
  // Published ports are reached from 127.0.0.1 on the host by DNAT; the kernel routes such
  // packets out of the bridge only with route_localnet set on it.
  writeFileSync(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  // Traffic between a bridge and the world (outbound NAT, a container reaching another through
  // a host address) is routed by the host, as dockerd's default `ip-forward` also arranges.
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

/** The first IPv4 address (`a.b.c.d/n`) an interface holds, or undefined (also when it does not exist). */
export async function interfaceAddress(name: string): Promise<string | undefined> {
  const r = await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', name]);
  if (r.code !== 0) return undefined;
  return /\binet\s+(\d+\.\d+\.\d+\.\d+\/\d+)/.exec(r.stdout)?.[1];
}

/** Deletes an interface; one that is not there is not an error. */
export async function deleteLink(name: string): Promise<void> {
  await runCommand('ip', ['link', 'del', 'dev', name]);
}

/** Interfaces enslaved to a bridge. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const r = await runCommand('ip', ['-o', 'link', 'show', 'master', bridge]);
  if (r.code !== 0) return [];
  return r.stdout.split('\n').map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1]).filter((n): n is string => !!n);
}

/** True when a network namespace is bind-mounted on the path (it survives a reboot only as an empty file). */
export function isNetnsMount(path: string): boolean {
  return isMounted(path);
}

/**
 * Makes the namespace unless it is there, running `inside` (ip -batch lines) in it when made;
 * true when it was made now. Creating and configuring in one exec keeps `docker run` quick.
 */
export async function ensureNetns(path: string, inside: string[] = []): Promise<boolean> {
  if (isNetnsMount(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  closeSync(openSync(path, 'a'));
  await mustRun('unshare', [`--net=${path}`, 'ip', '-batch', '-'], `${['link set dev lo up', ...inside].join('\n')}\n`);
  return true;
}

export async function removeNetns(path: string): Promise<void> {
  // A lazy unmount: a process still entering it (an exec) must not make the removal fail.
  while (isNetnsMount(path)) {
    const r = await runCommand('umount', ['-l', path]);
    if (r.code !== 0) throw new Error(`unmounting ${path}: ${r.stderr.trim()}`);
  }
  if (existsSync(path)) rmSync(path, { force: true });
}

export interface VethSpec {
  netnsPath: string;
  hostIf: string;
  bridge: string;
  /** Address with prefix, e.g. 10.1.0.2/24. */
  cidr: string;
  gateway: string;
  mac: string;
  mtu: number;
  /** The interface name inside the namespace: eth0 for the first network, eth1 for the next. */
  ifName: string;
  /** Whether this endpoint carries the default route (the first non-internal one does). */
  defaultRoute: boolean;
}

/** ip -batch lines, run inside the namespace, that make the veth pair and configure its inner end. */
export function vethInside(v: VethSpec): string[] {
  return [
    `link add ${v.ifName} mtu ${v.mtu} type veth peer name ${v.hostIf} netns ${process.pid}`,
    `link set dev ${v.ifName} address ${v.mac}`,
    `addr add ${v.cidr} dev ${v.ifName}`,
    `link set dev ${v.ifName} up`,
    ...(v.defaultRoute ? [`route replace default via ${v.gateway} dev ${v.ifName}`] : []),
  ];
}

/** Puts the host end of the pair on the bridge. */
export async function attachHostEnd(v: VethSpec): Promise<void> {
  // Hairpin: a container reaching its own published port gets its packets back through its port.
  await mustRun('ip', ['-batch', '-'], `link set dev ${v.hostIf} master ${v.bridge} mtu ${v.mtu} up\nlink set dev ${v.hostIf} type bridge_slave hairpin on\n`);
}

/** Creates the veth pair in an existing namespace, replacing a half-made one. */
export async function ensureVeth(v: VethSpec): Promise<void> {
  await deleteLink(v.hostIf);
  await runCommand('nsenter', [`--net=${v.netnsPath}`, 'ip', 'link', 'del', v.ifName]);
  await mustRun('nsenter', [`--net=${v.netnsPath}`, 'ip', '-batch', '-'], `${['link set dev lo up', ...vethInside(v)].join('\n')}\n`);
  await attachHostEnd(v);
}
