import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlreadyExists, isFailedPrecondition, isNotFound } from '@berth/errors';
import { nativeDriver } from '../drivers/native';
import { overlayDriver } from '../drivers/overlay';
import { type Mount, Snapshotter } from './snapshotter';

const mounted: string[] = [];
afterEach(() => {
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', [m]);
});

/** Mounts what the snapshotter returned, as the shim will. */
function mountAt(mounts: Mount[], target: string): void {
  mkdirSync(target, { recursive: true });
  for (const m of mounts) {
    const opts = m.options.filter((o) => o !== 'rbind' && o !== 'ro' && o !== 'rw');
    if (m.type === 'bind') execFileSync('mount', ['--bind', m.source, target]);
    else execFileSync('mount', ['-t', m.type, m.source, target, '-o', opts.join(',')]);
  }
  mounted.push(target);
}

const canMount = process.getuid?.() === 0;

// One conformance run per driver: both must give the same trees for the same calls.
describe.each([overlayDriver, nativeDriver])('snapshotter ($name)', (driver) => {
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-snap-'));
    const s = new Snapshotter(dir, driver);
    s.reconcile();
    return { s, dir };
  };

  it('layers committed snapshots and mounts a writable one on top', () => {
    const { s, dir } = fresh();
    const [m1] = s.prepare('extract-1', '');
    writeFileSync(join(m1!.source, 'a'), 'one');
    s.commit('layer1', 'extract-1');
    const m2 = s.prepare('extract-2', 'layer1');
    if (!canMount) return;
    const t2 = join(dir, 'mnt2');
    mountAt(m2, t2);
    writeFileSync(join(t2, 'b'), 'two');
    execFileSync('umount', [mounted.pop()!]);
    s.commit('layer2', 'extract-2');
    const rootfs = join(dir, 'rootfs');
    mountAt(s.prepare('container', 'layer2'), rootfs);
    expect(readFileSync(join(rootfs, 'a'), 'utf8')).toBe('one');
    expect(readFileSync(join(rootfs, 'b'), 'utf8')).toBe('two');
    writeFileSync(join(rootfs, 'c'), 'mine');
    expect(s.stat('container').kind).toBe('active');
    expect(s.list().map((r) => r.key).sort()).toEqual(['container', 'layer1', 'layer2']);
  });

  it('answers repeated and invalid calls with the contract errors', () => {
    const { s } = fresh();
    s.prepare('k', '');
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      throw new Error('expected an error');
    };
    expect(isAlreadyExists(err(() => s.prepare('k', '')))).toBe(true);
    expect(isNotFound(err(() => s.prepare('x', 'missing')))).toBe(true);
    expect(isNotFound(err(() => s.remove('missing')))).toBe(true);
    s.commit('base', 'k');
    s.prepare('child', 'base');
    expect(isFailedPrecondition(err(() => s.remove('base')))).toBe(true);
    expect(isFailedPrecondition(err(() => s.commit('again', 'base')))).toBe(true);
    s.remove('child');
    s.remove('base');
    expect(s.list()).toEqual([]);
  });

  it('removes directories a crash left without a record, and keeps the rest', () => {
    const { s, dir } = fresh();
    s.prepare('kept', '');
    mkdirSync(join(dir, driver.name, 'snapshots', 'orphan', 'fs'), { recursive: true });
    const again = new Snapshotter(dir, driver);
    expect(again.reconcile()).toBe(1);
    expect(again.stat('kept').kind).toBe('active');
    expect(readdirSync(join(dir, driver.name, 'snapshots'))).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
    expect(existsSync(dir)).toBe(false);
  });
});
