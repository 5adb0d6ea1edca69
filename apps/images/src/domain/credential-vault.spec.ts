import { describe, expect, it } from 'vitest';
import { CredentialVault } from './credential-vault';

describe('CredentialVault', () => {
  it('names equal credentials alike and different or absent ones apart, without revealing them', () => {
    const v = new CredentialVault();
    const a = v.fingerprint({ username: 'u', password: 'p' });
    expect(a).toBe(v.fingerprint({ username: 'u', password: 'p' }));
    expect(a).not.toBe(v.fingerprint({ username: 'u', password: 'other' }));
    expect(v.fingerprint({})).toBe('');
    // The key is per process: another vault's fingerprint of the same secret differs.
    expect(new CredentialVault().fingerprint({ username: 'u', password: 'p' })).not.toBe(a);
  });

  it('holds credentials while anyone needs them, and a job without them fails clearly', () => {
    const v = new CredentialVault();
    const id = v.fingerprint({ username: 'u', password: 'p' });
    const r1 = v.hold(id, { username: 'u', password: 'p' });
    const r2 = v.hold(id, { username: 'u', password: 'p' });
    r1();
    r1();
    expect(v.get(id)).toEqual({ username: 'u', password: 'p' });
    r2();
    expect(v.size).toBe(0);
    expect(() => v.get(id)).toThrow(/no longer held/);
    expect(v.get(undefined)).toEqual({});
  });
});
