import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceServer } from '@berth/grpc';
import { shimV1 } from '@berth/proto';
import { alive, eventually, ROOT, Suite } from '../support/berth';

let suite: Suite;
// The Node shim's artifacts and versions per container (conmon containers share one monitor).
beforeAll(async () => {
  suite = await Suite.startWithBusybox(['--default-monitor', 'shim']);
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
});

const SHIM_VERSION = (JSON.parse(readFileSync(join(ROOT, 'apps/shim/package.json'), 'utf8')) as { version: string }).version;

interface Rec {
  shimSocket: string;
  bundle: string;
  monitor?: { name: string; version: string; path: string };
}
const record = (id: string) => JSON.parse(readFileSync(join(suite.dataRoot, 'supervisor', 'records', `${id}.json`), 'utf8')) as Rec;
const idOf = async (name: string) => (await suite.docker(['inspect', '--format', '{{.Id}}', name])).stdout.trim();

function monitorPid(id: string): number {
  const pid = suite.monitorPid(id);
  if (!pid) throw new Error(`no monitor for ${id}`);
  return pid;
}

describe('each container records its monitor', () => {
  it('create records the monitor name, version and the artifact it runs from; status counts them', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'mon-a', 'busybox', 'sleep', '300'])).code).toBe(0);
    expect((await suite.docker(['create', '--name', 'mon-b', 'busybox', 'true'])).code).toBe(0);
    const rec = record(await idOf('mon-a'));
    expect(rec.monitor).toMatchObject({ name: 'shim', version: SHIM_VERSION });
    // A real file, not a `current` link: the container keeps this build whatever is installed later.
    expect(realpathSync(rec.monitor!.path)).toBe(rec.monitor!.path);
    // Under `npm start`, a build kept beside the others (the next build overwrites dist/apps/shim).
    expect(rec.monitor!.path).toMatch(new RegExp(`^${join(ROOT, 'dist/monitors/shim')}/${SHIM_VERSION.replace(/\./g, '\\.')}-[0-9a-f]{12}/main\\.js$`));
    const cmd = readFileSync(`/proc/${monitorPid(await idOf('mon-a'))}/cmdline`, 'utf8').split('\0');
    expect(cmd).toContain(rec.monitor!.path);
    const status = await suite.admin(['status']);
    expect(status.stdout).toMatch(/^MONITOR\s+VERSION\s+CONTAINERS$/m);
    expect(status.stdout).toMatch(new RegExp(`^shim\\s+${SHIM_VERSION.replace(/\./g, '\\.')}\\s+2$`, 'm'));
  });

  it('a supervisor that finds a monitor of another contract major refuses to adopt it, in its log and the container state', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'mon-v2', 'busybox', 'sleep', '300'])).code).toBe(0);
    const id = await idOf('mon-v2');
    const rec = record(id);
    const real = monitorPid(id);
    process.kill(real, 'SIGKILL');
    await eventually(async () => alive(real), (a) => !a);
    // A monitor from the future: it answers Info, serving only berth.shim.v2.
    const fake = new ServiceServer({ name: 'shim', version: '2.0.0' }).add('berth.shim.v2', shimV1.ShimService, {} as never);
    await fake.listen(`unix://${rec.shimSocket}`);
    try {
      expect((await suite.admin(['restart', 'supervisor'])).code).toBe(0);
      const err = await eventually(
        async () => (await suite.docker(['inspect', '--format', '{{.State.Error}}', 'mon-v2'])).stdout.trim(),
        (e) => e !== '',
        30_000,
      );
      expect(err).toBe('monitor not adopted: monitor shim 2.0.0 serves berth.shim.v2; this supervisor speaks berth.shim.v1');
      expect(suite.logs).toContain(`refusing to adopt the monitor of ${id}`);
      const stop = await suite.docker(['stop', '-t', '1', 'mon-v2']);
      expect(stop.code).not.toBe(0);
      expect(stop.stderr).toContain('berth.shim.v2');
      // rm -f still ends it, without a word to the stranger: the runtime kills and deletes it.
      const pid = Number((await suite.docker(['inspect', '--format', '{{.State.Pid}}', 'mon-v2'])).stdout.trim());
      expect(alive(pid)).toBe(true);
      const rm = await suite.docker(['rm', '-f', 'mon-v2'], { timeoutMs: 60_000 });
      expect(rm.stderr).toBe('');
      expect(alive(pid)).toBe(false);
      expect((await suite.docker(['inspect', 'mon-v2'])).code).not.toBe(0);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(rec.bundle);
    } finally {
      await fake.close(0);
    }
  });
});
