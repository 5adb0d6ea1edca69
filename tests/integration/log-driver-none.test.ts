import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, eventually, run, Suite, pipedCli } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// `--log-driver none` under the suite's monitor: conmon by default (attach output from conmon's
// attach socket), the Node shim with BERTH_TEST_MONITOR=shim. Both keep the same behaviour.
const MONITOR = process.env.BERTH_TEST_MONITOR || 'conmon';
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

const idOf = async (name: string) => (await suite.docker(['inspect', '--format', '{{.Id}}', name])).stdout.trim();
const monitorOf = async (name: string) =>
  (JSON.parse(readFileSync(join(suite.dataRoot, 'supervisor', 'records', `${await idOf(name)}.json`), 'utf8')) as { monitor?: { name: string } }).monitor?.name ?? 'shim';

const cli = (args: string[]) => pipedCli(suite.dockerHost, args);

const counted = (n: number) => Array.from({ length: n }, (_, i) => `line-${i}\n`).join('');
/** Prints `tick` until /tmp/go exists (an attach sees it is live), then `done` and exits 3. */
const ticking = 'while [ ! -e /tmp/go ]; do echo tick; usleep 50000; done; echo done; echo done-err >&2; exit 3';

describe(`--log-driver none (${MONITOR})`, () => {
  it('docker run prints every line of both streams; a second run is attached to as the first', async () => {
    const n = 3000;
    const r = await suite.docker(['run', '--name', 'none-run', '--log-driver', 'none', 'busybox', 'sh', '-c', `i=0; while [ $i -lt ${n} ]; do echo line-$i; i=$((i+1)); done; echo to-stderr >&2; exit 7`]);
    expect(r.stdout).toBe(counted(n));
    expect(r.stderr).toBe('to-stderr\n');
    expect(r.code).toBe(7);
    expect(await monitorOf('none-run')).toBe(MONITOR);
    // dockerd names no file for a driver that keeps none.
    expect((await suite.docker(['inspect', '--format', '{{.LogPath}}', 'none-run'])).stdout).toBe('\n');
    // A second run of the same container: its attach gets that run's output only.
    const again = cli(['start', '-a', 'none-run']);
    expect(await again.done).toBe(7);
    expect(again.out).toBe(counted(n));
    await suite.docker(['rm', 'none-run']);
  });

  it('docker logs answers as dockerd does: 501, and the CLI exits 1', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'none-logs', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo hi; sleep 300'])).code).toBe(0);
    for (const args of [['logs', 'none-logs'], ['logs', '-f', '--tail', '1', 'none-logs']]) {
      const r = await suite.docker(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('Error response from daemon: configured logging driver does not support reading\n');
      expect(r.stdout).toBe('');
    }
    const api = await suite.api('GET', '/v1.41/containers/none-logs/logs?stdout=1&stderr=1');
    expect(api.status).toBe(501);
    expect(JSON.parse(api.body)).toEqual({ message: 'configured logging driver does not support reading' });
    // Bad input keeps its own answer first.
    expect((await suite.api('GET', '/v1.41/containers/none-logs/logs')).status).toBe(400);
    expect((await suite.api('GET', '/v1.41/containers/no-such-ctr/logs?stdout=1')).status).toBe(404);
    await suite.docker(['rm', '-f', 'none-logs']);
  });

  it('a log opt with none is refused at create (the CLI refuses it before asking)', async () => {
    const r = await suite.api('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { LogConfig: { Type: 'none', Config: { 'max-size': '1k' } } } });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ message: "unknown log opt 'max-size' for none log driver" });
  });

  it('-i: stdin in, output out, EOF ends the container', async () => {
    const c = cli(['run', '--rm', '-i', '--log-driver', 'none', 'busybox', 'sh', '-c', 'cat; echo end; echo end-err >&2']);
    c.p.stdin.end('abc\ndef\n');
    expect(await c.done).toBe(0);
    expect(c.out).toBe('abc\ndef\nend\n');
    expect(c.err).toBe('end-err\n');
  });

  it('-it: a terminal, raw output and the exit code', async () => {
    // `script` gives the docker CLI a pseudo-terminal, as an interactive shell would.
    const r = await run('script', ['-eqc', "docker run --rm -it --log-driver none busybox sh -c 'tty; echo on-stderr >&2; exit 4'", '/dev/null'], { env: { DOCKER_HOST: suite.dockerHost } });
    expect(r.stdout).toContain('/dev/pts/0\r\non-stderr\r\n');
    expect(r.code).toBe(4);
  });

  it('docker run -d then docker attach: the output from then on, and the exit code; under conmon also after kill -9 of the monitor', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'none-att', '--log-driver', 'none', 'busybox', 'sh', '-c', ticking])).code).toBe(0);
    expect(await monitorOf('none-att')).toBe(MONITOR);
    if (MONITOR === 'conmon') {
      // The Node shim is the container's parent: its kill -9 loses the container (monitor-loss.test.ts).
      const mon = suite.monitorPid();
      expect(mon).toBeGreaterThan(0);
      process.kill(mon, 'SIGKILL');
      await eventually(async () => alive(mon), (a) => !a);
    }
    const a = cli(['attach', 'none-att']);
    await eventually(() => Promise.resolve(a.out), (o) => o.includes('tick\n'), 30_000);
    expect((await suite.docker(['exec', 'none-att', 'touch', '/tmp/go'])).code).toBe(0);
    expect(await a.done).toBe(3);
    expect(a.out).toMatch(/^(tick\n)+done\n$/);
    expect(a.err).toBe('done-err\n');
    expect((await suite.docker(['inspect', '--format', '{{.State.ExitCode}}', 'none-att'])).stdout).toBe('3\n');
    await suite.docker(['rm', 'none-att']);
  });

  it('two clients attached to one run both get all of it', async () => {
    expect((await suite.docker(['create', '--name', 'none-two', '--log-driver', 'none', 'busybox', 'sh', '-c', ticking])).code).toBe(0);
    const first = cli(['start', '-a', 'none-two']);
    await eventually(() => Promise.resolve(first.out), (o) => o.includes('tick\n'), 30_000);
    const second = cli(['attach', 'none-two']);
    await eventually(() => Promise.resolve(second.out), (o) => o.includes('tick\n'), 30_000);
    expect((await suite.docker(['exec', 'none-two', 'touch', '/tmp/go'])).code).toBe(0);
    expect(await first.done).toBe(3);
    expect(await second.done).toBe(3);
    for (const c of [first, second]) {
      expect(c.out).toMatch(/^(tick\n)+done\n$/);
      expect(c.err).toBe('done-err\n');
    }
    await suite.docker(['rm', 'none-two']);
  });
});
