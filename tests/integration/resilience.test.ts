import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.start();
});
afterAll(async () => {
  await suite?.stop();
});

describe('the builder starts on first use', () => {
  it('is idle until a build: version, info and status do not start it; the first docker build does', async () => {
    const idle = () => suite.state().children.builder!;
    expect(idle()).toMatchObject({ pid: 0, status: 'idle' });
    expect((await suite.docker(['version'])).stdout).toMatch(/berth-builder[\s\S]*State:\s+idle, starts on first use/);
    expect((await suite.docker(['info'])).stdout).not.toContain('builder service is unavailable');
    const status = await suite.admin(['status']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^builder\s+-\s+-\s+-\s+idle, starts on first use/m);
    expect(idle().status).toBe('idle');
    const restart = await suite.admin(['restart', 'builder']);
    expect(restart.stdout).toContain('builder is idle: it starts on first use');
    expect(idle().status).toBe('idle');

    const ctx = mkdtempSync('/tmp/bt-ondemand-');
    try {
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
      writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
      const b = await suite.docker(['build', '-t', 'ondemand:1', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 300_000 });
      expect(b.code, b.stdout + b.stderr).toBe(0);
      expect(b.stdout).toContain('Successfully tagged ondemand:1');
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    const running = suite.state().children.builder!;
    expect(running.status).toBe('running');
    expect(alive(running.pid)).toBe(true);
    const after = await suite.admin(['status']);
    expect(after.stdout).toMatch(new RegExp(`^builder\\s+${running.pid}\\s+0\\.1\\.0\\s+\\S+\\s+healthy`, 'm'));
    expect((await suite.docker(['version'])).stdout).toMatch(/berth-builder:\s+Version:\s+0\.1\.0/);
  });
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
