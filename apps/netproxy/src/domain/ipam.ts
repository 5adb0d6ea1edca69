import { conflict, invalidArgument } from '@berth/errors';
import { broadcast, contains, formatIp, parseCidr, parseIp } from './ipv4';

/**
 * Picks a container address in a network's subnet (or its --ip-range): the requested one if it
 * is free, else the lowest free one. `used` holds the gateway and every endpoint's address; the
 * endpoint records are the durable allocation state, so nothing else needs saving.
 */
export function allocateIp(ipam: { subnet: string; gateway: string; ipRange: string }, used: Set<string>, requested: string): string {
  const subnet = parseCidr(ipam.subnet);
  if (requested) {
    const ip = parseIp(requested);
    if (!contains(subnet, ip)) throw invalidArgument(`no configured subnet or ip-range contain the IP address ${requested}`);
    if (used.has(requested)) throw conflict(`Address already in use`);
    return requested;
  }
  const range = ipam.ipRange ? parseCidr(ipam.ipRange) : subnet;
  const first = Math.max(range.base, subnet.base + 1);
  const last = Math.min(broadcast(range), broadcast(subnet) - 1);
  for (let n = first; n <= last; n++) {
    const s = formatIp(n);
    if (!used.has(s)) return s;
  }
  throw conflict(`no available IPv4 addresses on this network's address pools: ${ipam.subnet}`);
}
