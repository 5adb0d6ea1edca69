import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';
import { bigFile, conmonMonitor, leftovers, mountsOf, NOTHING_LEFT, prepared, processesOf } from '../support/prepared';

// A runtime container made at create and never started is dropped after the monitor's TTL, so a
// container left in Created holds no process, as under Docker. 30 s by default; short here.
const TTL_MS = 2_000;
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s), [], { env: { BERTH_MONITOR_PREPARED_TTL_MS: String(TTL_MS) } });

/**
 * Mounts of the container's rootfs: its bundle's, and views `docker cp` took of it; with `netns`,
 * its network namespace's too (which a created container keeps until its removal).
 */
function rootfsMounts(id: string, netns = true): string[] {
  const roots = join(suite.execRoot, 'supervisor', 'roots', id.slice(0, 12));
  const all = [...mountsOf(id), ...readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(roots))];
  return netns ? all : all.filter((l) => !l.startsWith('nsfs '));
}

async function dropped(id: string): Promise<void> {
  if (!conmonMonitor) return;
  const left = await eventually(async () => ({ ...leftovers(suite, id), mounts: rootfsMounts(id, false) }), (l) => l.conmon.length === 0 && !l.runtime && l.mounts.length === 0, TTL_MS + 15_000);
  expect(left, 'the prepared container dropped at the end of its TTL').toEqual(NOTHING_LEFT);
  expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', id])).stdout.trim()).toBe('created 0');
}

async function removedCleanly(name: string, id: string): Promise<void> {
  const rm = await suite.docker(['rm', name]);
  expect(rm.code, rm.stderr).toBe(0);
  expect({ ...leftovers(suite, id), mounts: rootfsMounts(id) }).toEqual(NOTHING_LEFT);
}

describe('a prepared container not started within the TTL', () => {
  it('is dropped (no conmon, no runtime state, rootfs unmounted), and a later start makes it again', async () => {
    const c = await suite.docker(['create', '--name', 'ttl-drop', 'busybox', 'sh', '-c', 'echo after the drop; exit 4']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(suite, id);
    await dropped(id);
    const r = await suite.docker(['start', '-a', 'ttl-drop']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('after the drop\n');
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim()).toBe('exited 4');
    await removedCleanly('ttl-drop', id);
  });

  it('is removed cleanly without a start after the drop', async () => {
    const c = await suite.docker(['create', '--name', 'ttl-rm', 'busybox', 'sleep', '300']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(suite, id);
    await dropped(id);
    await removedCleanly('ttl-rm', id);
  });

  it('takes docker cp while the drop unmounts the rootfs, and the start sees every byte copied', async () => {
    const c = await suite.docker(['create', '--name', 'ttl-cp', 'busybox', 'sh', '-c', 'md5sum /big | cut -d" " -f1; cat /small']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    // Large enough that a copy takes a while: the TTL's end lands inside one.
    const { dir, path: big, md5 } = bigFile(48, 'berth-ttl-');
    await prepared(suite, id);
    const until = Date.now() + TTL_MS + 1_500;
    let n = 0;
    while (Date.now() < until || n === 0) {
      writeFileSync(join(dir, 'small'), `copy ${n}\n`);
      const cps = await Promise.all([suite.docker(['cp', big, 'ttl-cp:/big']), suite.docker(['cp', join(dir, 'small'), 'ttl-cp:/small'])]);
      for (const cp of cps) expect(cp.code, cp.stderr).toBe(0);
      n++;
    }
    await dropped(id);
    const r = await suite.docker(['start', '-a', 'ttl-cp']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${md5}\ncopy ${n - 1}\n`);
    rmSync(dir, { recursive: true, force: true });
    expect(processesOf(id)).toEqual([]);
    await removedCleanly('ttl-cp', id);
  });
});
