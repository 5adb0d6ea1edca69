import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

// The conmon monitor (one process for every container), killed where the services are between
// two steps: each call must get a clear answer, never a hang or a 500 (issue 13).
let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox(['--default-monitor', 'conmon']);
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
});

async function killMonitor(): Promise<void> {
  const mon = suite.monitorPid();
  expect(mon).toBeGreaterThan(0);
  process.kill(mon, 'SIGKILL');
  await eventually(async () => alive(mon), (a) => !a);
}

const inspect = async (name: string, f: string) => (await suite.docker(['inspect', '--format', f, name])).stdout.trim();

/** A counter line every 10 ms until /stop exists, then exit 42. */
const COUNTER = 'i=0; while [ ! -f /stop ]; do echo $i; i=$((i+1)); usleep 10000; done; exit 42';

async function counter(name: string): Promise<void> {
  expect((await suite.docker(['run', '-d', '--name', name, 'busybox', 'sh', '-c', COUNTER])).code).toBe(0);
  await eventually(async () => (await suite.docker(['logs', name])).stdout.split('\n').length, (n) => n > 20, 30_000);
}

/** Ends the counter and checks its whole log: every value once, in order. */
async function endCounter(name: string): Promise<string[]> {
  expect((await suite.docker(['exec', name, 'touch', '/stop'])).code).toBe(0);
  expect((await suite.docker(['wait', name], { timeoutMs: 60_000 })).stdout.trim()).toBe('42');
  const lines = (await suite.docker(['logs', name])).stdout.trim().split('\n');
  expect(lines).toEqual(lines.map((_, i) => String(i)));
  return lines;
}

/** The lines of a multiplexed log body (8-byte frame heads), stdout only. */
function stdoutOf(body: Buffer): string {
  let out = '';
  for (let at = 0; at + 8 <= body.length; ) {
    const size = body.readUInt32BE(at + 4);
    if (body[at] === 1) out += body.subarray(at + 8, at + 8 + size).toString();
    at += 8 + size;
  }
  return out;
}

/** A raw GET whose body is kept as bytes (log frames are binary). */
function getBytes(path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = suite.dockerHost.replace('unix://', '');
    void import('node:http').then(({ request }) => {
      const req = request({ socketPath: sock, path, method: 'GET' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.end();
    });
  });
}

describe('a monitor killed between the inspect and the logs', () => {
  it('the logs call asks for the monitor again and answers with the whole log', async () => {
    await counter('md-prefetch');
    // The CLI's two requests, with the kill between them: the inspect looked up the monitor that is gone now.
    expect((await suite.api('GET', '/containers/md-prefetch/json')).status).toBe(200);
    await killMonitor();
    const r = await getBytes('/containers/md-prefetch/logs?stdout=1&stderr=1');
    expect(r.status).toBe(200);
    const lines = stdoutOf(r.body).trim().split('\n');
    expect(lines.length).toBeGreaterThan(20);
    expect(lines).toEqual(lines.map((_, i) => String(i)));
    // And through the CLI (its own inspect, then logs), with the monitor killed once more.
    await killMonitor();
    const cli = await suite.docker(['logs', 'md-prefetch']);
    expect(cli.code).toBe(0);
    expect(cli.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(lines.length);
    await endCounter('md-prefetch');
  });
});

describe('docker logs -f when the monitor is killed mid-follow', () => {
  it('the follower ends with an error while the container runs on; a later docker logs has every line', async () => {
    await counter('md-follow');
    const follower = spawn('docker', ['logs', '-f', 'md-follow'], { env: { ...process.env, DOCKER_HOST: suite.dockerHost } });
    let followed = '';
    let followErr = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    follower.stderr.on('data', (d: Buffer) => (followErr += d.toString()));
    const closed = new Promise<number>((res) => follower.on('close', (code) => res(code ?? -1)));
    try {
      await eventually(async () => followed.split('\n').length, (n) => n > 20, 30_000);
      await killMonitor();
      // Not a hang: the stream that went with the monitor ends, though the container still runs.
      const code = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('still following'), 30_000))]);
      expect(code).not.toBe('still following');
      expect(code).not.toBe(0);
      expect(followErr).toContain('Error grabbing logs');
      expect(await inspect('md-follow', '{{.State.Status}}')).toBe('running');
    } finally {
      follower.kill('SIGKILL');
    }
    const lines = await endCounter('md-follow');
    const seen = followed.split('\n').slice(0, -1);
    expect(seen.length).toBeGreaterThan(20);
    expect(seen).toEqual(lines.slice(0, seen.length));
  });

  it('a follower started after the kill follows to the exit', async () => {
    await counter('md-follow2');
    await killMonitor();
    const follower = spawn('docker', ['logs', '-f', 'md-follow2'], { env: { ...process.env, DOCKER_HOST: suite.dockerHost } });
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const closed = new Promise<number>((res) => follower.on('close', (code) => res(code ?? -1)));
    try {
      await eventually(async () => followed.split('\n').length, (n) => n > 30, 30_000);
      const lines = await endCounter('md-follow2');
      const code = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('still following'), 30_000))]);
      expect(code).toBe(0);
      expect(followed.trim().split('\n')).toEqual(lines);
    } finally {
      follower.kill('SIGKILL');
    }
  });
});
