import { invalidArgument } from '@berth/errors';

/** An IPv4 subnet as numbers: the network address and the prefix length. */
export interface Subnet {
  base: number;
  prefix: number;
}

export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) throw invalidArgument(`invalid IP address: ${s}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; host bits must be zero unless `loose` (as for `--bip 10.1.0.1/24`). */
export function parseCidr(s: string, loose = false): Subnet & { addr: number } {
  const [ip, len, extra] = s.split('/');
  const prefix = Number(len);
  if (extra !== undefined || !len || !/^\d+$/.test(len) || prefix > 32) throw invalidArgument(`invalid CIDR address: ${s}`);
  const addr = parseIp(ip!);
  const base = (addr & mask(prefix)) >>> 0;
  if (!loose && base !== addr) throw invalidArgument(`invalid subnet ${s}: it should be ${formatIp(base)}/${prefix}`);
  return { base, prefix, addr };
}

export function formatCidr(s: Subnet): string {
  return `${formatIp(s.base)}/${s.prefix}`;
}

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefix)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

export function broadcast(s: Subnet): number {
  return (s.base | (~mask(s.prefix) >>> 0)) >>> 0;
}

/** The subnets of `size` bits inside a pool, in order. */
export function* split(pool: Subnet, size: number): Generator<Subnet> {
  if (size < pool.prefix || size > 30) return;
  const step = 2 ** (32 - size);
  for (let b = pool.base; b <= broadcast(pool); b += step) yield { base: b >>> 0, prefix: size };
}

/** A MAC address derived from the IP, as Docker's bridge driver does (02:42 + the four bytes). */
export function macForIp(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
