import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, Suite, run } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { freePort } from '../../tests/support/registry';

const DOCKERD = '/usr/sbin/dockerd';

/**
 * Compatibility check, run by hand like the benchmarks (a reference engine never runs in tests
 * or CI): `npx vitest run --config tools/bench/vitest.compat.mts`.
 * Round trips with a reference Docker engine, when one is installed: a private dockerd with
 * its own data root, exec root, socket and containerd namespace, no bridge and no iptables,
 * never the host's daemon.
 */
describe.skipIf(!existsSync(DOCKERD))('with a reference Docker engine', () => {
  let suite: Suite;
  let port: number;
  let fx: Awaited<ReturnType<typeof fixtures>>;
  let base: string;
  let dockerd: ChildProcess;
  let ref: (args: string[]) => Promise<RunResult>;

  beforeAll(async () => {
    port = await freePort();
    base = mkdtempSync('/tmp/berth-ref-');
    const sock = join(base, 'docker.sock');
    dockerd = spawn(
      DOCKERD,
      ['--data-root', join(base, 'data'), '--exec-root', join(base, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(base, 'dockerd.pid'), '--iptables=false', '--bridge=none', '--containerd-namespace', `berth-ref-${process.pid}`, '--containerd-plugins-namespace', `berth-ref-p-${process.pid}`],
      { stdio: 'ignore' },
    );
    ref = (args) => run('docker', args, { env: { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(base, 'cli') }, timeoutMs: 60_000 });
    [suite, fx] = await Promise.all([Suite.start(['--registry-listen', `127.0.0.1:${port}`]), fixtures()]);
    for (let i = 0; i < 150 && (await ref(['version'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
  });
  afterAll(async () => {
    await suite?.stop();
    if (dockerd && dockerd.exitCode === null) {
      const exited = new Promise((r) => dockerd.once('exit', r));
      dockerd.kill('SIGTERM');
      await exited;
    }
    if (base) {
      execFileSync('sh', ['-c', `grep ' ${base}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a docker save from Berth loads into Docker and runs', async () => {
    expect((await suite.docker(['load', '-i', fx.layered])).code).toBe(0);
    const out = join(base, 'from-berth.tar');
    expect((await suite.docker(['save', '-o', out, 'berth-fixtures/layered'])).code).toBe(0);
    const load = await ref(['load', '-i', out]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain('Loaded image: berth-fixtures/layered:latest');
    const r = await ref(['run', '--rm', '--network', 'none', 'berth-fixtures/layered', 'cat', '/data/replaced.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('new');
    const ids = await Promise.all([suite, { docker: ref }].map(async (s) => (await s.docker(['image', 'inspect', '-f', '{{.Id}}', 'berth-fixtures/layered'])).stdout.trim()));
    expect(ids[0]).toBe(ids[1]);
  });

  it('a docker save from Docker loads into Berth and runs', async () => {
    expect((await ref(['tag', 'berth-fixtures/layered', 'from-docker/layered:1'])).code).toBe(0);
    const out = join(base, 'from-docker.tar');
    expect((await ref(['save', '-o', out, 'from-docker/layered:1'])).code).toBe(0);
    const load = await suite.docker(['load', '-i', out]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain('Loaded image: from-docker/layered:1');
    const r = await suite.docker(['run', '--rm', '--network', 'none', 'from-docker/layered:1', 'sh', '-c', 'test -e /data/gone.txt || cat /data/replaced.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('new');
  });

  it("Docker pulls from and pushes to Berth's registry endpoint", async () => {
    const name = `localhost:${port}/berth-fixtures/layered:latest`;
    const pull = await ref(['pull', name]);
    expect(pull.code, pull.stderr).toBe(0);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(pull.stdout)?.[1];
    const mine = JSON.parse((await suite.docker(['image', 'inspect', 'berth-fixtures/layered'])).stdout)[0];
    expect(digest).toBeDefined();
    const theirs = JSON.parse((await ref(['image', 'inspect', name])).stdout)[0];
    expect(theirs.Id).toBe(mine.Id);

    // A layer Berth has never seen: Docker uploads it in chunks (PATCH), gzipped its own way.
    const c = await ref(['run', '--name', 'committer', '--network', 'none', name, 'sh', '-c', 'echo made-by-docker > /data/new.txt; rm /data/keep.txt']);
    expect(c.code, c.stderr).toBe(0);
    expect((await ref(['commit', 'committer', `localhost:${port}/pushed/by-docker:v1`])).code).toBe(0);
    const push = await ref(['push', `localhost:${port}/pushed/by-docker:v1`]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/: Pushed\n/);
    const run = await suite.docker(['run', '--rm', '--network', 'none', 'pushed/by-docker:v1', 'sh', '-c', 'cat /data/new.txt /data/replaced.txt; test -e /data/keep.txt || echo kept-gone']);
    expect(run.code, run.stderr).toBe(0);
    // replaced.txt has no final newline.
    expect(run.stdout).toBe('made-by-docker\nnewkept-gone\n');
    await ref(['rm', '-f', 'committer']);
  });
});
