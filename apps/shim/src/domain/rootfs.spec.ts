import { describe, expect, it } from 'vitest';
import { fitMountData } from './rootfs';

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
