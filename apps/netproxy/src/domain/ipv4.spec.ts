import { describe, expect, it } from 'vitest';
import { contains, formatCidr, formatIp, macForIp, overlaps, parseCidr, parseIp, split } from './ipv4';

describe('ipv4', () => {
  it('parses and formats addresses and subnets', () => {
    expect(formatIp(parseIp('172.17.0.2'))).toBe('172.17.0.2');
    expect(formatCidr(parseCidr('10.1.0.0/16'))).toBe('10.1.0.0/16');
    expect(parseCidr('10.1.0.1/24', true).addr).toBe(parseIp('10.1.0.1'));
    expect(() => parseIp('1.2.3.256')).toThrow(/invalid IP address/);
    expect(() => parseCidr('10.1.0.1/24')).toThrow(/it should be 10.1.0.0\/24/);
    expect(() => parseCidr('10.1.0.0/33')).toThrow(/invalid CIDR/);
  });

  it('tells containment and overlap', () => {
    const s = parseCidr('10.1.0.0/16');
    expect(contains(s, parseIp('10.1.255.3'))).toBe(true);
    expect(contains(s, parseIp('10.2.0.1'))).toBe(false);
    expect(overlaps(s, parseCidr('10.1.4.0/24'))).toBe(true);
    expect(overlaps(s, parseCidr('10.0.0.0/8'))).toBe(true);
    expect(overlaps(s, parseCidr('10.2.0.0/16'))).toBe(false);
  });

  it('splits a pool into subnets and derives MACs like Docker', () => {
    expect([...split(parseCidr('10.9.0.0/22'), 24)].map(formatCidr)).toEqual(['10.9.0.0/24', '10.9.1.0/24', '10.9.2.0/24', '10.9.3.0/24']);
    expect(macForIp(parseIp('172.17.0.2'))).toBe('02:42:ac:11:00:02');
  });
});
