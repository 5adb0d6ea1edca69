import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { crunUnsupportedHere } from '../support/crun-host';

const crunSkip = crunUnsupportedHere();
if (crunSkip) console.log(`runtimes: skipping the crun cases: ${crunSkip}`);

// The OCI runtime is chosen by config, per container (--runtime) or for the daemon
// (--default-runtime), from daemon.json `runtimes`.
describe('OCI runtimes', () => {
  let suite: Suite;
  const base = `/tmp/bt-rt-${process.pid}.json`;
  beforeAll(async () => {
    writeFileSync(base, JSON.stringify({ runtimes: { 'runc-alt': { path: 'runc' } }, 'default-runtime': 'runc-alt', 'registry-hosts': ['docker.io=http://127.0.0.1:9'] }));
    suite = await Suite.startWithBusybox(['--config', base]);
  });
  afterAll(async () => {
    await suite?.removeAllContainers();
    await suite?.stop();
    rmSync(base, { force: true });
  });

  const lifecycle = async (runtime: string) => {
    const hi = await suite.docker(['run', '--rm', '--runtime', runtime, 'busybox', 'echo', 'hi']);
    expect(hi.stderr).toBe('');
    expect(hi.stdout).toBe('hi\n');
    const id = (await suite.docker(['run', '-d', '--runtime', runtime, 'busybox', 'sleep', '300'])).stdout.trim();
    expect((await suite.docker(['exec', id, 'cat', '/proc/1/cmdline'])).stdout).toBe('sleep\u0000300\u0000');
    expect((await suite.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', id])).stdout.trim()).toBe(runtime);
    expect((await suite.docker(['stop', '-t', '1', id])).code).toBe(0);
    expect((await suite.docker(['inspect', '-f', '{{.State.ExitCode}}', id])).stdout.trim()).toBe('137');
    expect((await suite.docker(['run', '--runtime', runtime, 'busybox', 'sh', '-c', 'exit 3'])).code).toBe(3);
  };

  it('runs, execs into, stops and inspects a container on runc', () => lifecycle('runc'));
  it.skipIf(crunSkip !== undefined)('runs, execs into, stops and inspects a container on crun', () => lifecycle('crun'));

  it('gives a container the daemon default runtime when none is asked for, and lists every runtime in info', async () => {
    const id = (await suite.docker(['create', 'busybox', 'true'])).stdout.trim();
    expect((await suite.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', id])).stdout.trim()).toBe('runc-alt');
    const info = await suite.docker(['info', '--format', '{{.DefaultRuntime}}|{{range $k, $v := .Runtimes}}{{$k}},{{end}}']);
    const [def, list] = info.stdout.trim().split('|');
    expect(def).toBe('runc-alt');
    expect(list!.split(',').filter(Boolean).sort()).toEqual(['crun', 'runc', 'runc-alt']);
    expect((await suite.docker(['start', '-a', id])).code).toBe(0);
  });

  it('refuses an unknown runtime as dockerd does', async () => {
    const r = await suite.docker(['run', '--rm', '--runtime', 'nosuch', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('unknown or invalid runtime name: nosuch');
  });
});
