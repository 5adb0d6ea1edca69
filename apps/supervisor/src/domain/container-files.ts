import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BerthConfig } from '@berth/config';
import { writeFileReplace } from '@berth/store';
import type { ContainerRecord } from './model';
import { containerRemap, giveToRemappedRoot } from './userns';

const LOCALHOST_NS = /^\s*nameserver\s+(127\.|::1\b)/;
/** Docker's fallback when the host only lists local resolvers, which a container cannot reach. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/**
 * resolv.conf for a container that is not on the host network: the host's, without loopback
 * resolvers, with the user's --dns/--dns-search/--dns-option replacing the host's lines.
 */
export function resolvConf(host: string, dns: string[], search: string[], options: string[]): string {
  const lines = host.split('\n').filter((l) => l.trim() !== '');
  let ns = lines.filter((l) => /^\s*nameserver\s/.test(l) && !LOCALHOST_NS.test(l));
  let rest = lines.filter((l) => !/^\s*nameserver\s/.test(l));
  if (dns.length) ns = dns.map((d) => `nameserver ${d}`);
  if (ns.length === 0) ns = FALLBACK_NAMESERVERS.map((d) => `nameserver ${d}`);
  if (search.length) rest = rest.filter((l) => !/^\s*(search|domain)\s/.test(l)).concat(`search ${search.join(' ')}`);
  if (options.length) rest = rest.filter((l) => !/^\s*options\s/.test(l)).concat(`options ${options.join(' ')}`);
  return `${[...rest.filter((l) => !l.startsWith('#')), ...ns].join('\n')}\n`;
}

export function hostsFile(hostname: string, extra: string[], ip?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of extra) {
    const i = e.lastIndexOf(':');
    if (i > 0) lines.push(`${e.slice(i + 1)}\t${e.slice(0, i)}`);
  }
  // Docker names the container by its own address on a network, by 127.0.1.1 only without one.
  if (hostname) lines.push(`${ip || '127.0.1.1'}\t${hostname}`);
  return `${lines.join('\n')}\n`;
}

export function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Writes over the file itself, and only when its content changes: the runtime container may
 * already be made (at create) with these files bound into it, and a bind follows the inode, not
 * the name. A crash mid-write leaves a torn file only in a container that is not running; the
 * next start writes it again.
 */
function rewriteFile(path: string, data: string): void {
  if (existsSync(path)) {
    if (readHostFile(path) !== data) writeFileSync(path, data);
  } else writeFileReplace(path, data);
}

export function writeContainerFiles(
  paths: { hostname: string; hosts: string; resolvConf: string },
  opts: { hostname: string; hostNetwork: boolean; dns: string[]; dnsSearch: string[]; dnsOptions: string[]; extraHosts: string[]; ip?: string },
): void {
  rewriteFile(paths.hostname, `${opts.hostNetwork ? readHostFile('/etc/hostname').trim() : opts.hostname}\n`);
  rewriteFile(paths.hosts, opts.hostNetwork ? readHostFile('/etc/hosts') : hostsFile(opts.hostname, opts.extraHosts, opts.ip));
  rewriteFile(paths.resolvConf, resolvConf(readHostFile('/etc/resolv.conf'), opts.dns, opts.dnsSearch, opts.dnsOptions));
}

/**
 * Writes a container's hostname, hosts and resolv.conf from its record: at create, and again at
 * every start, as Docker regenerates them (the host's resolvers or the networks may have changed).
 */
export function writeFilesFor(rec: ContainerRecord, config: BerthConfig, linkHosts: string[] = []): void {
  if (rec.joinedContainer) return;
  const hc = rec.hostConfig;
  const first = rec.networks?.[0];
  const dnsServer = rec.networks?.find((n) => n.dnsServer)?.dnsServer;
  writeContainerFiles(
    { hostname: rec.hostnamePath, hosts: rec.hostsPath, resolvConf: rec.resolvConfPath },
    {
      hostname: rec.config.Hostname,
      hostNetwork: hc.NetworkMode === 'host',
      dns: dnsServer ? [dnsServer] : (hc.Dns?.length ? hc.Dns : config.dns),
      dnsSearch: hc.DnsSearch?.length ? hc.DnsSearch : config.dnsSearch,
      // As Docker does for its embedded DNS: names are tried as given before the search domains.
      dnsOptions: hc.DnsOptions?.length ? hc.DnsOptions : config.dnsOpts.length ? config.dnsOpts : dnsServer ? ['ndots:0'] : [],
      // host-gateway is the host's address as the container sees it: its network's gateway.
      extraHosts: [...(hc.ExtraHosts ?? []).map((h) => h.replace(/:host-gateway$/, `:${first?.gateway ?? '127.0.0.1'}`)), ...linkHosts],
      ip: first?.ipv4Address,
    },
  );
  giveToRemappedRoot(containerRemap(config, hc), dirname(rec.hostsPath), [rec.hostnamePath, rec.hostsPath, rec.resolvConfPath]);
}
