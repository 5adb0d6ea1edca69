import { describe, expect, it } from 'vitest';
import { parseMac } from './endpoints';

describe('parseMac', () => {
  it('takes a unicast address in either separator and refuses the rest', () => {
    expect(parseMac('02:42:AC:11:FF:01')).toBe('02:42:ac:11:ff:01');
    expect(parseMac('02-42-ac-11-ff-01')).toBe('02:42:ac:11:ff:01');
    expect(() => parseMac('02:42:ac:11:ff')).toThrow('invalid MAC address');
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow('multicast');
  });
});
