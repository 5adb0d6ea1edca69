import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';

// A removal cut short by kill -9 of the supervisor comes back consistent: the record says
// "removing" before anything is undone, and the supervisor started again finishes the removal
// (volumes, endpoint, files, snapshot and record) with nothing left behind.
let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  if (suite) {
    for (const svc of ['snapshotter', 'supervisor']) {
      const pid = suite.state().children[svc]?.pid ?? 0;
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
    }
    await suite.removeAllContainers();
    await suite.stop();
  }
});

/** Every `snapshots` directory's entries under the data root (the snapshotter's, whatever its layout). */
function snapshotDirs(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 3) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name === 'snapshots') out.push(...readdirSync(p).map((n) => join(p, n)));
      else walk(p, depth + 1);
    }
  };
  walk(suite.dataRoot, 0);
  return out.sort();
}

/** Anything of container `id` still on disk or mounted. */
function leftovers(id: string): string[] {
  const left: string[] = [];
  if (existsSync(join(suite.execRoot, 'bundles', id))) left.push('bundle');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(id));
  left.push(...mounts.map((m) => `mount ${m}`));
  const walk = (dir: string, depth: number) => {
    if (depth > 3) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === id) left.push(join(dir, e.name));
      else if (e.isDirectory() && e.name !== 'snapshots') walk(join(dir, e.name), depth + 1);
    }
  };
  walk(suite.dataRoot, 0);
  return left;
}

const pidOf = (svc: string) => suite.state().children[svc]!.pid;

/**
 * Holds the snapshotter (SIGSTOP) so that the removal started by `begin` stops at the snapshot's
 * removal, kills the supervisor there, lets the snapshotter go and waits for the new supervisor.
 */
async function killSupervisorMidRemoval(id: string, begin: () => Promise<unknown>): Promise<void> {
  const snap = pidOf('snapshotter');
  const sup = pidOf('supervisor');
  process.kill(snap, 'SIGSTOP');
  let pending: Promise<unknown> | undefined;
  try {
    pending = begin().catch(() => undefined);
    const st = await eventually(() => suite.docker(['inspect', '--format', '{{.State.Status}}', id]), (r) => r.stdout.trim() === 'removing', 30_000);
    expect(st.stdout.trim(), 'the record says "removing" before the removal undoes anything').toBe('removing');
    // The monitor's shutdown and the container's own files go before the snapshot: let them.
    await eventually(async () => existsSync(join(suite.execRoot, 'bundles', id)), (e) => !e, 30_000);
    process.kill(sup, 'SIGKILL');
  } finally {
    process.kill(snap, 'SIGCONT');
  }
  await pending;
  await eventually(async () => pidOf('supervisor'), (p) => p !== sup && p > 0, 30_000);
}

describe('kill -9 of the supervisor mid-removal', () => {
  it('docker rm -f: the restarted supervisor finishes the removal, nothing is left behind', async () => {
    const before = snapshotDirs();
    const id = (await suite.docker(['run', '-d', '-v', '/data', 'busybox', 'sleep', '1000'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshotDirs().length, 'the container has a snapshot of its own to leave behind').toBe(before.length + 1);
    await killSupervisorMidRemoval(id, () => suite.docker(['rm', '-f', id], { timeoutMs: 60_000 }));
    const gone = await eventually(() => suite.docker(['ps', '-aq', '--no-trunc']), (r) => r.code === 0 && !r.stdout.includes(id), 30_000);
    expect(gone.stdout).not.toContain(id);
    expect(await eventually(async () => leftovers(id), (l) => l.length === 0, 15_000)).toEqual([]);
    expect(await eventually(async () => snapshotDirs(), (s) => s.join() === before.join(), 15_000)).toEqual(before);
  });

  it('--rm: an exit recorded as "removing" is removed by the restarted supervisor', async () => {
    const before = snapshotDirs();
    const snap = pidOf('snapshotter');
    const sup = pidOf('supervisor');
    const id = (await suite.docker(['run', '-d', '--rm', 'busybox', 'sleep', '2'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    process.kill(snap, 'SIGSTOP');
    try {
      const st = await eventually(() => suite.docker(['inspect', '--format', '{{.State.Status}}', id]), (r) => r.stdout.trim() === 'removing', 30_000);
      expect(st.stdout.trim()).toBe('removing');
      process.kill(sup, 'SIGKILL');
    } finally {
      process.kill(snap, 'SIGCONT');
    }
    await eventually(async () => pidOf('supervisor'), (p) => p !== sup && p > 0, 30_000);
    const gone = await eventually(() => suite.docker(['ps', '-aq', '--no-trunc']), (r) => r.code === 0 && !r.stdout.includes(id), 30_000);
    expect(gone.stdout).not.toContain(id);
    expect(await eventually(async () => leftovers(id), (l) => l.length === 0, 15_000)).toEqual([]);
    expect(await eventually(async () => snapshotDirs(), (s) => s.join() === before.join(), 15_000)).toEqual(before);
  });

  it('a removal that ran to its end leaves nothing either (the baseline the two above compare with)', async () => {
    const before = snapshotDirs();
    const r = await suite.docker(['run', '--rm', 'busybox', 'true']);
    expect(r.code).toBe(0);
    expect((await suite.docker(['ps', '-aq'])).stdout.trim()).toBe('');
    // The snapshot goes just after the answer (removal-leftovers.test.ts).
    expect(await eventually(async () => snapshotDirs(), (s) => s.join() === before.join(), 15_000)).toEqual(before);
  });
});
