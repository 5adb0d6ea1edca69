import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.start();
});
afterAll(async () => {
  await suite?.stop();
});

describe('the launcher keeps the suite up', () => {
  it.each(['gateway', 'images', 'snapshotter', 'supervisor', 'netproxy', 'builder'])('brings %s back after kill -9', async (svc) => {
    const before = suite.state().children[svc]!;
    expect(alive(before.pid)).toBe(true);
    process.kill(before.pid, 'SIGKILL');
    const after = await eventually(
      async () => suite.state().children[svc]!,
      (c) => c.pid !== before.pid && c.pid > 0 && c.status === 'running',
    );
    expect(after.pid).not.toBe(before.pid);
    expect(after.restarts).toBe(before.restarts + 1);
    const version = await eventually(() => suite.docker(['version', '--format', '{{.Server.Version}}']), (r) => r.code === 0, 30_000);
    expect(version.stdout.trim()).toBe('0.1.0');
    const status = await eventually(() => suite.admin(['status']), (r) => r.code === 0);
    expect(status.code).toBe(0);
    const row = status.stdout.split('\n').find((l) => l.startsWith(svc));
    expect(row).toMatch(new RegExp(`^${svc}\\s+${after.pid}\\s+0\\.1\\.0\\s+\\S+\\s+healthy`));
  });

  it('restarts one service alone from the admin command', async () => {
    const before = suite.state().children;
    const r = await suite.admin(['restart', 'snapshotter']);
    expect(r.code).toBe(0);
    const after = suite.state().children;
    expect(after.snapshotter!.pid).not.toBe(before.snapshotter!.pid);
    for (const other of ['gateway', 'images', 'supervisor', 'netproxy', 'redis']) expect(after[other]!.pid).toBe(before[other]!.pid);
    expect((await suite.admin(['restart', 'nosuch'])).stderr).toContain('no such service: nosuch');
  });
});
