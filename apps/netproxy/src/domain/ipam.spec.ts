import { describe, expect, it } from 'vitest';
import { allocateIp } from './ipam';

describe('allocateIp', () => {
  const ipam = { subnet: '10.7.0.0/29', gateway: '10.7.0.1', ipRange: '' };
  it('takes the lowest free address and honours a static one', () => {
    expect(allocateIp(ipam, new Set(['10.7.0.1']), '')).toBe('10.7.0.2');
    expect(allocateIp(ipam, new Set(['10.7.0.1', '10.7.0.2']), '')).toBe('10.7.0.3');
    expect(allocateIp(ipam, new Set(['10.7.0.1']), '10.7.0.5')).toBe('10.7.0.5');
  });
  it('refuses addresses in use, outside the subnet, and a full subnet', () => {
    expect(() => allocateIp(ipam, new Set(['10.7.0.1', '10.7.0.5']), '10.7.0.5')).toThrow(/Address already in use/);
    expect(() => allocateIp(ipam, new Set(), '10.8.0.5')).toThrow(/no configured subnet/);
    const full = new Set(['1', '2', '3', '4', '5', '6'].map((n) => `10.7.0.${n}`));
    expect(() => allocateIp(ipam, full, '')).toThrow(/no available IPv4 addresses/);
  });
  it('stays inside --ip-range', () => {
    expect(allocateIp({ subnet: '10.7.0.0/24', gateway: '10.7.0.1', ipRange: '10.7.0.128/25' }, new Set(['10.7.0.1']), '')).toBe('10.7.0.128');
  });
});
