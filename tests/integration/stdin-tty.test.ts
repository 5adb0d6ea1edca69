import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite, pipedCli } from '../support/berth';

// The conmon monitor (stdin through its attach socket, the terminal and resize through conmon),
// or the one BERTH_TEST_MONITOR names: both monitors keep the same behaviour.
const MONITOR = process.env.BERTH_TEST_MONITOR || 'conmon';
let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox(['--default-monitor', MONITOR]);
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
});

const idOf = async (name: string) => (await suite.docker(['inspect', '--format', '{{.Id}}', name])).stdout.trim();
const monitorOf = async (name: string) =>
  (JSON.parse(readFileSync(join(suite.dataRoot, 'supervisor', 'records', `${await idOf(name)}.json`), 'utf8')) as { monitor?: { name: string } }).monitor?.name;

const cli = (args: string[]) => pipedCli(suite.dockerHost, args);


describe(`stdin, attach and the terminal (${MONITOR})`, () => {
  it('docker run -i: every byte of a large stdin, then EOF ends the container', async () => {
    const data = randomBytes(3 << 20);
    const c = cli(['run', '-i', '--name', 'ci-big', 'busybox', 'sh', '-c', 'md5sum; echo done']);
    c.p.stdin.end(data);
    expect(await c.done).toBe(0);
    expect(c.out).toBe(`${createHash('md5').update(data).digest('hex')}  -\ndone\n`);
    expect(await monitorOf('ci-big')).toBe(MONITOR);
    await suite.docker(['rm', 'ci-big']);
  });

  it('-a stdin -a stdout: stdin in, only stdout out', async () => {
    const c = cli(['run', '--rm', '-i', '-a', 'stdin', '-a', 'stdout', 'busybox', 'sh', '-c', 'cat; echo to-stderr >&2']);
    c.p.stdin.end('only-this\n');
    expect(await c.done).toBe(0);
    expect(c.out).toBe('only-this\n');
    expect(c.err).toBe('');
  });

  it('-d -i keeps stdin open across attaches (no StdinOnce), under conmon also after kill -9 of the monitor', async () => {
    expect((await suite.docker(['run', '-d', '-i', '--name', 'ci-keep', 'busybox', 'sh', '-c', 'while read l; do echo got-$l; done; echo eof; exit 3'])).code).toBe(0);
    expect(await monitorOf('ci-keep')).toBe(MONITOR);
    const sendLine = async (line: string) => {
      const a = cli(['attach', '--sig-proxy=false', 'ci-keep']);
      a.p.stdin.write(`${line}\n`);
      await eventually(() => Promise.resolve(a.out), (o) => o.includes(`got-${line}`), 30_000);
      a.p.kill('SIGKILL');
      await a.done;
    };
    await sendLine('a');
    await sendLine('b');
    if (MONITOR === 'conmon') {
      // The Node shim is the container's parent: its kill -9 loses the container (monitor-loss.test.ts).
      const mon = suite.monitorPid();
      expect(mon).toBeGreaterThan(0);
      process.kill(mon, 'SIGKILL');
      await eventually(async () => alive(mon), (a) => !a);
    }
    // After a kill the next call brings a monitor back; conmon kept stdin open while nobody was attached.
    await sendLine('c');
    expect(await suite.docker(['inspect', '--format', '{{.State.Status}}', 'ci-keep'])).toMatchObject({ stdout: 'running\n' });
    const logs = await suite.docker(['logs', 'ci-keep']);
    expect(logs.stdout).toBe('got-a\ngot-b\ngot-c\n');
    await suite.docker(['rm', '-f', 'ci-keep']);
  });

  it('docker start -ai of a stopped -i container: stdin reaches the next run, StdinOnce closes it', async () => {
    expect((await suite.docker(['create', '-i', '--name', 'ci-again', 'busybox', 'sh', '-c', 'cat; echo end'])).code).toBe(0);
    for (const word of ['first', 'second']) {
      const c = cli(['start', '-ai', 'ci-again']);
      c.p.stdin.end(`${word}\n`);
      expect(await c.done).toBe(0);
      expect(c.out).toBe(`${word}\nend\n`);
    }
    await suite.docker(['rm', 'ci-again']);
  });

  it('-t: a terminal that the resize endpoint resizes, raw output', async () => {
    expect((await suite.docker(['run', '-d', '-t', '--name', 'ci-tty', 'busybox', 'sh', '-c', 'echo hello; sleep 300'])).code).toBe(0);
    expect(await monitorOf('ci-tty')).toBe(MONITOR);
    const r = await suite.api('POST', '/containers/ci-tty/resize?h=21&w=77');
    expect(r.status).toBe(200);
    const size = await suite.docker(['exec', 'ci-tty', 'stty', '-F', '/proc/1/fd/0', 'size']);
    expect(size.stdout).toBe('21 77\n');
    expect((await suite.docker(['exec', 'ci-tty', 'readlink', '/proc/1/fd/0'])).stdout).toMatch(/^\/dev\/pts\/\d+\n$/);
    // A terminal's output is one raw stream with CRLF, as Docker logs it.
    expect((await suite.docker(['logs', 'ci-tty'])).stdout).toBe('hello\r\n');
    await suite.docker(['rm', '-f', 'ci-tty']);
  });
});
