import { describe, expect, it } from 'vitest';
import { pickSubnet } from './address-pools';
import { formatCidr, parseCidr } from './ipv4';

describe('pickSubnet', () => {
  it('skips subnets that clash with host routes or other networks', () => {
    const pools = [{ base: '10.50.0.0/22', size: 24 }];
    expect(formatCidr(pickSubnet(pools, [parseCidr('10.50.0.0/24'), parseCidr('10.50.1.7/32')]))).toBe('10.50.2.0/24');
  });

  it('fails like dockerd when every pool is used', () => {
    expect(() => pickSubnet([{ base: '10.50.0.0/24', size: 24 }], [parseCidr('10.0.0.0/8')])).toThrow(/non-overlapping IPv4 address pool/);
  });
});
