import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { socketAnswers } from '@berth/grpc';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// The conmon monitor (one process for every container), killed where the services are between
// two steps: each call must get a clear answer, never a hang or a 500 (issue 13).
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s), ['--default-monitor', 'conmon']);

const killMonitor = () => suite.killMonitor();

const inspect = async (name: string, f: string) => (await suite.docker(['inspect', '--format', f, name])).stdout.trim();

/**
 * A counter line every 10 ms until /stop exists, then exit 42. The pause before the exit lets the
 * exec that made /stop end first: when a container's init exits, the kernel kills what else runs in
 * its pid namespace, and a `touch` not yet reaped exits 137.
 */
const COUNTER = 'i=0; while [ ! -f /stop ]; do echo $i; i=$((i+1)); usleep 10000; done; usleep 500000; exit 42';

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

/** Gone, or a zombie (its reaper has not waited for it yet). */
function ended(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('a monitor started again without the exit of the run that ended while it was down', () => {
  // The supervisor is held (SIGSTOP) so it neither probes nor starts the monitor itself: the
  // monitor comes back (started here with its own command line, as the supervisor would) to
  // find conmon gone and no exit file. Then the supervisor goes on ('resumed': its open Wait
  // failed and it asks the monitor again, held past its 10 s between asks so that it does) or
  // starts again ('restarted': it asks the monitor for the state).
  async function lostExit(name: string, supervisor: 'resumed' | 'restarted'): Promise<void> {
    const [id, pid] = (await inspect(name, '{{.Id}} {{.State.Pid}}')).split(' ');
    const startedAt = Date.parse(await inspect(name, '{{.State.StartedAt}}'));
    const exitFile = join(suite.execRoot, 'bundles', id!, 'conmon', 'exits', id!);
    const mon = suite.monitorPid();
    const cmd = readFileSync(`/proc/${mon}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const conmon = Number(readFileSync(join(suite.execRoot, 'bundles', id!, 'conmon', 'conmon.pid'), 'utf8'));
    const sup = suite.state().children.supervisor!.pid;
    process.kill(sup, 'SIGSTOP');
    try {
      process.kill(mon, 'SIGKILL');
      await eventually(async () => alive(mon), (a) => !a);
      process.kill(Number(pid), 'SIGKILL');
      expect(await eventually(async () => existsSync(exitFile), (e) => e, 30_000)).toBe(true);
      rmSync(exitFile);
      // conmon ends after writing it: the monitor must find it gone (one that still runs would be watched to its end).
      expect(await eventually(async () => ended(conmon), (e) => e, 30_000)).toBe(true);
      const again = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: 'ignore', cwd: join(suite.execRoot, 'monitor') });
      again.unref();
      expect(await eventually(() => socketAnswers(join(suite.execRoot, 'monitor.sock')), (l) => l, 30_000)).toBe(true);
      if (supervisor === 'resumed') await new Promise((r) => setTimeout(r, 11_000));
    } finally {
      // SIGKILL ends a stopped process; no SIGCONT after it (it races the launcher's reaping).
      process.kill(sup, supervisor === 'resumed' ? 'SIGCONT' : 'SIGKILL');
    }
    if (supervisor === 'restarted') {
      await eventually(async () => suite.state().children.supervisor!.pid, (p) => p !== sup && p > 0, 60_000);
      await eventually(() => suite.docker(['inspect', name]), (r) => r.code === 0, 60_000);
    }
    // Settled by the kernel's truth: not running, and no exit code of an earlier run.
    const wait = await suite.docker(['wait', name], { timeoutMs: 60_000 });
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    expect(wait.stdout.trim()).toBe('255');
    expect(await inspect(name, '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}')).toBe('exited false 255');
    expect(Date.parse(await inspect(name, '{{.State.FinishedAt}}'))).toBeGreaterThanOrEqual(startedAt);
    expect((await suite.docker(['stop', '-t', '1', name], { timeoutMs: 60_000 })).code).toBe(0);
    // The container is not stuck: it starts again under the monitor that came back.
    expect((await suite.docker(['start', name], { timeoutMs: 60_000 })).code).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('running');
    expect((await suite.docker(['rm', '-f', name], { timeoutMs: 60_000 })).code).toBe(0);
  }

  /** A container that exits 3 on its first run and sleeps on the next, now in its second run. */
  async function secondRun(name: string): Promise<void> {
    expect((await suite.docker(['run', '-d', '--name', name, 'busybox', 'sh', '-c', '[ -e /ran ] && exec sleep 300; touch /ran; exit 3'])).code).toBe(0);
    expect((await suite.docker(['wait', name], { timeoutMs: 60_000 })).stdout.trim()).toBe('3');
    // The supervisor takes an exit record from within a second of the start as this run's.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await suite.docker(['start', name])).code).toBe(0);
  }

  for (const supervisor of ['resumed', 'restarted'] as const) {
    it(`its first run: the exit is 255, never "running" or a hang (supervisor ${supervisor})`, async () => {
      expect((await suite.docker(['run', '-d', '--name', `md-lost1-${supervisor}`, 'busybox', 'sleep', '300'])).code).toBe(0);
      await lostExit(`md-lost1-${supervisor}`, supervisor);
    });

    it(`a later run: not the earlier run's exit code (supervisor ${supervisor})`, async () => {
      await secondRun(`md-lost2-${supervisor}`);
      await lostExit(`md-lost2-${supervisor}`, supervisor);
    });
  }
});

describe('stop, kill, pause and top while the monitor is down', () => {
  it('killed: each answers as with a monitor (the next call that needs one starts it)', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'md-ops', 'busybox', 'sleep', '300'])).code).toBe(0);
    await killMonitor();
    const top = await suite.docker(['top', 'md-ops'], { timeoutMs: 60_000 });
    expect(top.stderr).toBe('');
    expect(top.stdout).toContain('sleep 300');
    await killMonitor();
    const pause = await suite.docker(['pause', 'md-ops'], { timeoutMs: 60_000 });
    expect(pause.stderr).toBe('');
    expect(await inspect('md-ops', '{{.State.Status}}')).toBe('paused');
    await killMonitor();
    expect((await suite.docker(['unpause', 'md-ops'], { timeoutMs: 60_000 })).stderr).toBe('');
    expect(await inspect('md-ops', '{{.State.Status}}')).toBe('running');
    await killMonitor();
    const kill = await suite.docker(['kill', 'md-ops'], { timeoutMs: 60_000 });
    expect(kill.stderr).toBe('');
    expect(await eventually(() => inspect('md-ops', '{{.State.Status}} {{.State.ExitCode}}'), (s) => !s.startsWith('running'), 30_000)).toBe('exited 137');
    expect((await suite.docker(['wait', 'md-ops'], { timeoutMs: 60_000 })).stdout.trim()).toBe('137');
  });

  it('killed: stop of a paused container ends it', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'md-pstop', 'busybox', 'sleep', '300'])).code).toBe(0);
    expect((await suite.docker(['pause', 'md-pstop'])).code).toBe(0);
    await killMonitor();
    const stop = await suite.docker(['stop', '-t', '1', 'md-pstop'], { timeoutMs: 60_000 });
    expect(stop.stderr).toBe('');
    expect(await inspect('md-pstop', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
  });

  it('hung (SIGSTOP): stop and kill end the container, top answers, pause says why; none hangs', async () => {
    for (const n of ['md-hstop', 'md-hkill', 'md-hop']) expect((await suite.docker(['run', '-d', '--name', n, 'busybox', 'sleep', '300'])).code).toBe(0);
    const mon = suite.monitorPid();
    process.kill(mon, 'SIGSTOP');
    try {
      const [stop, kill, top, pause] = await Promise.all([
        suite.docker(['stop', '-t', '1', 'md-hstop'], { timeoutMs: 60_000 }),
        suite.docker(['kill', 'md-hkill'], { timeoutMs: 60_000 }),
        suite.docker(['top', 'md-hop'], { timeoutMs: 60_000 }),
        suite.docker(['pause', 'md-hop'], { timeoutMs: 60_000 }),
      ]);
      expect(stop.stderr).toBe('');
      expect(await inspect('md-hstop', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
      expect(kill.stderr).toBe('');
      expect(await eventually(() => inspect('md-hkill', '{{.State.Status}} {{.State.ExitCode}}'), (s) => !s.startsWith('running'), 30_000)).toBe('exited 137');
      expect(top.stderr).toBe('');
      expect(top.stdout).toContain('sleep 300');
      expect(pause.code).toBe(1);
      expect(pause.stderr.trim()).toMatch(/^Error response from daemon: Cannot pause container [0-9a-f]{64}: its monitor does not answer$/);
      expect(await inspect('md-hop', '{{.State.Status}}')).toBe('running');
    } finally {
      // SIGKILL ends a stopped process; no SIGCONT after it (it races the reaper).
      process.kill(mon, 'SIGKILL');
    }
    await eventually(async () => alive(mon), (a) => !a);
    expect((await suite.docker(['pause', 'md-hop'], { timeoutMs: 60_000 })).code).toBe(0);
    expect((await suite.docker(['rm', '-f', 'md-hop'], { timeoutMs: 60_000 })).code).toBe(0);
  });
});
