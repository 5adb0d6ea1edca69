import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInRoot } from './resolve-in-root';

describe('resolveInRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-rir-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'x');
  symlinkSync('/', join(root, 'toroot'));
  symlinkSync('../../../../..', join(root, 'up'));
  symlinkSync('/etc', join(root, 'etclink'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));

  it('keeps plain and missing paths under the root', () => {
    expect(resolveInRoot(root, '/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, 'new/dir')).toBe(join(root, 'new/dir'));
    expect(resolveInRoot(root, '/../../etc')).toBe(join(root, 'etc'));
  });

  it('follows absolute and escaping symlinks as a chrooted process would', () => {
    expect(resolveInRoot(root, '/toroot/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/up/etc')).toBe(join(root, 'etc'));
    expect(resolveInRoot(root, '/etclink/passwd')).toBe(join(root, 'etc/passwd'));
  });

  it('keeps a final symlink unless asked to follow it', () => {
    expect(resolveInRoot(root, '/etclink', false)).toBe(join(root, 'etclink'));
    expect(resolveInRoot(root, '/etclink')).toBe(join(root, 'etc'));
  });

  it('fails on symlink loops', () => {
    expect(() => resolveInRoot(root, '/loop1/x')).toThrow(/too many levels/);
  });
});
