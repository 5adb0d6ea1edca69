import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fitMountData, resolveInRoot } from './index';

describe('fitMountData', () => {
  it('keeps short options as they are', () => {
    expect(fitMountData(['lowerdir=/a/1/fs:/a/2/fs', 'upperdir=/a/3/fs'])).toEqual({ data: 'lowerdir=/a/1/fs:/a/2/fs,upperdir=/a/3/fs' });
  });

  it('makes paths relative to their common parent when they pass one page', () => {
    const root = '/tmp/bt-abcdef/data/snapshotter/snapshots';
    const lowers = Array.from({ length: 120 }, (_, i) => `${root}/${i + 1}/fs`);
    const opts = [`workdir=${root}/200/work`, `upperdir=${root}/200/fs`, `lowerdir=${lowers.join(':')}`];
    expect(opts.join(',').length).toBeGreaterThan(4095);
    const r = fitMountData(opts);
    expect(r.cwd).toBe(root);
    expect(r.data.length).toBeLessThanOrEqual(4095);
    expect(r.data.startsWith('workdir=200/work,upperdir=200/fs,lowerdir=1/fs:2/fs:')).toBe(true);
  });
});

describe('resolveInRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-resolve-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc/real'), { recursive: true });
  writeFileSync(join(root, 'etc/real/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  symlinkSync('/etc/shadow', join(root, 'etc/abs'));
  symlinkSync('../../../../../../etc/shadow', join(root, 'etc/up'));
  symlinkSync('real', join(root, 'etc/rel'));
  symlinkSync('/etc/loop2', join(root, 'etc/loop1'));
  symlinkSync('/etc/loop1', join(root, 'etc/loop2'));

  it('follows symlinks inside the root and never out of it', () => {
    expect(resolveInRoot(root, '/etc/rel/passwd')).toBe(join(root, 'etc/real/passwd'));
    expect(resolveInRoot(root, '/etc/abs')).toBe(join(root, 'etc/shadow'));
    expect(resolveInRoot(root, '/etc/up')).toBe(join(root, 'etc/shadow'));
    expect(resolveInRoot(root, '../../etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/nope/x')).toBe(join(root, 'nope/x'));
  });

  it('refuses a symlink loop', () => {
    expect(() => resolveInRoot(root, '/etc/loop1')).toThrow(/too many levels of symbolic links/);
  });
});
