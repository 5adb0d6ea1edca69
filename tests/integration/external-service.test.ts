import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceHealthy } from '@berth/clients';
import { ServiceProcess, startRedis, stopProcess } from '../../tools/conformance/service-process';
import { alive, ROOT, run, Suite } from '../support/berth';

// "Bring your own service": a snapshotter started by hand from its artifact, named in the
// config with managed: false. The launcher must use it, report it, and never start or restart it.
describe('a service left to an external process (managed: false)', () => {
  let base: string;
  let suite: Suite;
  let external: ServiceProcess;
  let redis: ChildProcess;
  let address: string;
  let configFile: string;

  beforeAll(async () => {
    base = mkdtempSync('/tmp/bt-ext-');
    const execRoot = join(base, 'run');
    const r = startRedis(base);
    redis = r.proc;
    address = `unix://${join(base, 'snap.sock')}`;
    configFile = join(base, 'snapshotter.json');
    // The external snapshotter has roots of its own: nothing of the suite's is shared with it.
    writeFileSync(configFile, JSON.stringify({ 'data-root': join(base, 'data'), 'exec-root': execRoot, redis: r.url, services: { snapshotter: { address } } }));
    external = new ServiceProcess('snapshotter', 'snapshotter', configFile, address);
    await external.start();
    const suiteConfig = join(base, 'daemon.json');
    writeFileSync(suiteConfig, JSON.stringify({ services: { snapshotter: { address, managed: false } }, 'registry-hosts': ['docker.io=http://127.0.0.1:9'] }));
    suite = await Suite.startWithBusybox(['--config', suiteConfig]);
  });

  afterAll(async () => {
    await suite?.removeAllContainers();
    await suite?.stop();
    await external?.stop();
    await stopProcess(redis);
    rmSync(base, { recursive: true, force: true });
  });

  it('runs containers on the external snapshotter and reports it as external', async () => {
    const r = await suite.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    // The layers went to the external snapshotter's own data root.
    const meta = join(base, 'data', 'snapshotter', 'overlay2', 'metadata');
    expect(existsSync(meta) && readdirSync(meta).length).toBeGreaterThan(0);
    expect(suite.state().children.snapshotter?.status).toBe('external');
    expect(suite.state().children.snapshotter?.pid).toBe(external.pid);
    const status = await suite.admin(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^snapshotter\s+\d+\s+\S+\s+\S+\s+healthy\s+external\s+berth\.snapshotter\.v1,berth\.snapshotter\.v1\.Volumes$/m);
    const restart = await suite.admin(['restart', 'snapshotter']);
    expect(restart.code).toBe(1);
    expect(restart.stderr).toContain('not managed by this launcher');
    expect(alive(external.pid!)).toBe(true);
  });

  it('fails container creation clearly while it is gone, and recovers when it is back', async () => {
    await external.stop('SIGKILL');
    const failed = await suite.docker(['create', 'busybox', 'true'], { timeoutMs: 60_000 });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/snapshotter/i);
    // The launcher never starts it again by itself.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await serviceHealthy('snapshotter', address, { deadlineMs: 500 })).toBe(false);
    await external.start();
    const back = await suite.docker(['run', '--rm', 'busybox', 'echo', 'back']);
    expect(back.stdout).toBe('back\n');
  });

  it('passes the snapshotter conformance kit', async () => {
    const kit = await run('npx', ['--no-install', 'tsx', 'tools/conformance/run.ts', 'snapshotter', address], { cwd: ROOT, timeoutMs: 120_000 });
    expect(kit.stdout).toMatch(/snapshotter conformance: \d+ passed, 0 failed/);
    expect(kit.code).toBe(0);
    expect(readFileSync(configFile, 'utf8')).toContain(address);
  });
});
