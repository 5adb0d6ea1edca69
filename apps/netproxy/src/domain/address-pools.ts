import type { AddressPool } from '@berth/config';
import { failedPrecondition } from '@berth/errors';
import { overlaps, parseCidr, split, type Subnet } from './ipv4';

/** dockerd's built-in pools, used when daemon.json has no `default-address-pools`. */
export const DEFAULT_ADDRESS_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/15', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/13', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/** The first subnet of the pools that overlaps none of `taken` (host routes and other networks). */
export function pickSubnet(pools: AddressPool[], taken: Subnet[]): Subnet {
  for (const pool of pools.length ? pools : DEFAULT_ADDRESS_POOLS) {
    for (const s of split(parseCidr(pool.base), pool.size)) {
      if (!taken.some((t) => overlaps(s, t))) return s;
    }
  }
  throw failedPrecondition('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}
