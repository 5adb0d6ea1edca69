import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanMemberName, ScopedRoot } from './scoped-root';

describe('ScopedRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-scoped-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'x');
  symlinkSync('/', join(root, 'toroot'));
  symlinkSync('../../../../..', join(root, 'up'));
  symlinkSync('/etc/passwd', join(root, 'pw'));
  writeFileSync(join(root, 'file'), '');
  const r = ScopedRoot.open(root);

  const resolve = (p: string, follow = true) => {
    const x = r.resolve(p, follow);
    x.close();
    return [x.inRoot, x.name];
  };

  it('follows symlinks inside the root and never above it', () => {
    expect(resolve('/toroot/etc/passwd')).toEqual(['/etc/passwd', 'passwd']);
    expect(resolve('/up/up/etc/../etc/passwd')).toEqual(['/etc/passwd', 'passwd']);
    expect(resolve('/pw')).toEqual(['/etc/passwd', 'passwd']);
    expect(resolve('/pw', false)).toEqual(['/pw', 'pw']);
    expect(resolve('/')).toEqual(['/', '']);
    expect(resolve('/up')).toEqual(['/', '']);
    expect(resolve('/etc/new')).toEqual(['/etc/new', 'new']);
  });

  it('reports missing and non-directory components', () => {
    expect(() => r.resolve('/nope/x', true)).toThrow(/ENOENT/);
    expect(() => r.resolve('/file/x', true)).toThrow(/ENOTDIR/);
  });

  it('cleans archive member names and refuses escaping ones', () => {
    expect(cleanMemberName('a/./b/')).toBe('a/b');
    expect(cleanMemberName('a/../../b')).toBeNull();
    expect(cleanMemberName('/etc/passwd')).toBeNull();
    expect(cleanMemberName('./')).toBe('.');
  });
});
