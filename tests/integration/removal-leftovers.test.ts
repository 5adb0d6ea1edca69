import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@berth/clients';
import { snapshotterV1 } from '@berth/proto';
import { eventually, Suite } from '../support/berth';

// A removal is answered once nothing of the container shows through the API; its rootfs
// snapshot and its files (the log) go after. A crash between the answer and that cleanup must
// not leak them: the next supervisor start collects what no record names, and nothing else.
// The label is the supervisor's mark on the snapshots it may collect (container-leftovers.ts).
const LABEL = 'berth.supervisor.container';

let suite: Suite;
let snaps: snapshotterV1.SnapshotsClient;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
  snaps = new snapshotterV1.SnapshotsClient(`unix://${join(suite.execRoot, 'snapshotter.sock')}`, credentials.createInsecure());
});
afterAll(async () => {
  snaps?.close();
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
});

const snapshots = async () => (await unary('snapshotter', snaps.list.bind(snaps), {})).snapshots;
const filesOf = (id: string) => join(suite.dataRoot, 'supervisor', 'containers', id);
const bundleOf = (id: string) => join(suite.execRoot, 'bundles', id);

/** kill -9 of the supervisor; back once the launcher has started the next one. */
async function restartSupervisor(): Promise<void> {
  const sup = suite.state().children.supervisor!.pid;
  process.kill(sup, 'SIGKILL');
  await eventually(async () => suite.state().children.supervisor!, (c) => c.pid !== sup && c.pid > 0 && c.status === 'running', 60_000);
  await eventually(async () => (await suite.docker(['ps', '-aq'])).code, (code) => code === 0, 60_000);
}

describe('what a removal leaves after its answer', () => {
  it('the snapshot, bundle and files of a removed container go after the answer', async () => {
    const id = (await suite.docker(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo hi; sleep 300'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const mine = (await snapshots()).find((s) => s.name === id);
    expect(mine?.labels[LABEL], 'the rootfs snapshot carries the mark').toBe(id);
    const logPath = (await suite.docker(['inspect', '-f', '{{.LogPath}}', id])).stdout.trim();
    expect(logPath.startsWith(filesOf(id)) && existsSync(logPath), 'the log is among the files').toBe(true);
    expect((await suite.docker(['rm', '-f', id])).code).toBe(0);
    expect(await eventually(async () => (await snapshots()).some((s) => s.name === id), (left) => !left, 15_000)).toBe(false);
    expect(await eventually(async () => existsSync(filesOf(id)) || existsSync(bundleOf(id)), (left) => !left, 15_000)).toBe(false);
  });

  it('a crash between the answer and the cleanup: the next start collects the leftovers, and nothing else', async () => {
    const keep = (await suite.docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '300'])).stdout.trim();
    // What a removal answered just before a kill -9 leaves: a marked snapshot, the files, and a
    // bundle whose rootfs is no longer mounted; no record.
    const gone = randomBytes(32).toString('hex');
    await unary('snapshotter', snaps.prepare.bind(snaps), { key: gone, parent: '', labels: { [LABEL]: gone } });
    mkdirSync(filesOf(gone), { recursive: true });
    writeFileSync(join(filesOf(gone), `${gone}-json.log`), '{"log":"x\\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}\n');
    mkdirSync(join(bundleOf(gone), 'rootfs'), { recursive: true });
    // An active snapshot that is not a container's (no mark), though its name looks like one.
    const other = randomBytes(32).toString('hex');
    await unary('snapshotter', snaps.prepare.bind(snaps), { key: other, parent: '', labels: {} });
    try {
      await restartSupervisor();
      const names = await eventually(async () => (await snapshots()).map((s) => s.name), (n) => !n.includes(gone), 30_000);
      expect(names, 'the marked snapshot of an unknown container is collected').not.toContain(gone);
      expect(await eventually(async () => existsSync(filesOf(gone)) || existsSync(bundleOf(gone)), (left) => !left, 15_000)).toBe(false);
      expect(names, 'an unmarked snapshot is not the supervisor to collect').toContain(other);
      expect(names, 'a live container keeps its snapshot').toContain(keep);
      expect(existsSync(filesOf(keep)) && existsSync(bundleOf(keep))).toBe(true);
      expect((await suite.docker(['inspect', '-f', '{{.State.Running}}', keep])).stdout.trim()).toBe('true');
      expect((await suite.docker(['exec', keep, 'true'])).code).toBe(0);
    } finally {
      await unary('snapshotter', snaps.remove.bind(snaps), { key: other }).catch(() => undefined);
    }
  });

  it('a container whose record is on disk but unreadable is not collected', async () => {
    const id = (await suite.docker(['run', '--network', 'none', '--name', 'unreadable', 'busybox', 'true'])).stdout.trim() || (await suite.docker(['inspect', '-f', '{{.Id}}', 'unreadable'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const record = join(suite.dataRoot, 'supervisor', 'records', `${id}.json`);
    const text = readFileSync(record, 'utf8');
    // Torn by hand (a disk error, an operator's edit): the next start cannot read it.
    writeFileSync(record, text.slice(0, 20));
    try {
      await restartSupervisor();
      // The sweep runs after the reconcile; give it the time the crash case above needs.
      await new Promise((r) => setTimeout(r, 2_000));
      expect((await snapshots()).map((s) => s.name), 'its snapshot is kept').toContain(id);
      expect(existsSync(filesOf(id)), 'its files are kept').toBe(true);
    } finally {
      writeFileSync(record, text);
      await restartSupervisor();
    }
    expect((await suite.docker(['rm', 'unreadable'])).code).toBe(0);
  });
});
