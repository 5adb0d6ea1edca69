import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// The conmon monitor, whatever the suite's default: a monitor killed with SIGKILL loses nothing.
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s), ['--default-monitor', 'conmon']);


function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const killMonitor = () => suite.killMonitor();

const inspect = async (name: string, f: string) => (await suite.docker(['inspect', '--format', f, name])).stdout.trim();

/**
 * A counter line every 10 ms until /stop exists, then exit 42. The pause before the exit lets the
 * exec that made /stop end first: when a container's init exits, the kernel kills what else runs in
 * its pid namespace, and a `touch` not yet reaped exits 137.
 */
const COUNTER = 'i=0; while [ ! -f /stop ]; do echo $i; i=$((i+1)); usleep 10000; done; usleep 500000; exit 42';

async function counterSurvives(name: string, killAlso?: () => Promise<void>): Promise<void> {
  expect((await suite.docker(['run', '-d', '--name', name, 'busybox', 'sh', '-c', COUNTER])).code).toBe(0);
  const pid = Number(await inspect(name, '{{.State.Pid}}'));
  await eventually(async () => (await suite.docker(['logs', name])).stdout.split('\n').length, (n) => n > 50, 30_000);
  await Promise.all([killMonitor(), killAlso?.()]);
  // The container runs on without any monitor, still writing its log through conmon.
  await new Promise((r) => setTimeout(r, 1_000));
  expect(alive(pid)).toBe(true);
  // The next call brings a monitor back, which finds the container as it left it.
  expect(await eventually(() => inspect(name, '{{.State.Status}} {{.State.Pid}}'), (s) => s === `running ${pid}`, 60_000)).toBe(`running ${pid}`);
  const before = Date.now();
  expect((await suite.docker(['exec', name, 'touch', '/stop'])).code).toBe(0);
  const wait = await suite.docker(['wait', name], { timeoutMs: 60_000 });
  const after = Date.now();
  expect(wait.stdout.trim()).toBe('42');
  expect(await inspect(name, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 42');
  const finished = Date.parse(await inspect(name, '{{.State.FinishedAt}}'));
  expect(finished).toBeGreaterThanOrEqual(before - 1_000);
  expect(finished).toBeLessThanOrEqual(after + 1_000);
  // Every counter value once, in order, none missing while the monitor was away.
  const lines = (await suite.docker(['logs', name])).stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThan(150);
  expect(lines).toEqual(lines.map((_, i) => String(i)));
}

describe('kill -9 of the conmon monitor', () => {
  it('loses nothing: same pid, every log line once, the later exit code and time exact', async () => {
    await counterSurvives('mk-alone');
  });

  it('loses nothing when the supervisor is killed at the same time', async () => {
    const sup = suite.state().children.supervisor!.pid;
    await counterSurvives('mk-both', async () => {
      process.kill(sup, 'SIGKILL');
      await eventually(async () => suite.state().children.supervisor!.pid, (p) => p !== sup && p > 0, 60_000);
    });
  });

  it('keeps a restart policy working after it comes back', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'mk-policy', '--restart', 'on-failure:1', 'busybox', 'sh', '-c', 'sleep 2; exit 3'])).code).toBe(0);
    await killMonitor();
    const s = await eventually(() => inspect('mk-policy', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}'), (v) => v === '1 exited 3', 60_000);
    expect(s).toBe('1 exited 3');
  });
});

describe('kill -9 of the conmon monitor while it hands over an exit', () => {
  it('the exit it had recorded stands, and the container is removed cleanly', async () => {
    // A client that stops reading keeps the monitor waiting for its attach followers after the
    // exit (bounded): the kill lands between the recorded exit and the runtime's delete.
    expect((await suite.docker(['run', '-d', '--name', 'mk-drain', 'busybox', 'sh', '-c', 'until [ -e /go ]; do sleep 0.05; done; yes $(seq -s - 40) | head -c 8000000; exit 3'])).code).toBe(0);
    const id = await inspect('mk-drain', '{{.Id}}');
    const sock = await suite.stalledAttach('mk-drain');
    try {
      const mon = suite.monitorPid();
      await suite.docker(['exec', 'mk-drain', 'touch', '/go']);
      const record = join(suite.execRoot, 'bundles', id, 'exit.json');
      await eventually(async () => existsSync(record), (e) => e, 60_000);
      process.kill(mon, 'SIGKILL');
      expect((await suite.docker(['wait', 'mk-drain'], { timeoutMs: 60_000 })).stdout.trim()).toBe('3');
      expect(await inspect('mk-drain', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 3');
      expect((await suite.docker(['rm', 'mk-drain'], { timeoutMs: 60_000 })).code).toBe(0);
      expect(await eventually(async () => existsSync(join(suite.execRoot, 'bundles', id)), (e) => !e, 15_000)).toBe(false);
      expect(existsSync(join(suite.execRoot, 'runtime', 'runc', id))).toBe(false);
    } finally {
      sock.destroy();
    }
  });
});

describe('hostile output under the conmon monitor', () => {
  it('64 MiB without a newline: every byte in docker logs, bounded monitor memory', async () => {
    const size = 64 * 1024 * 1024;
    const r = await suite.docker(['run', '--name', 'mk-flood', 'busybox', 'sh', '-c', `head -c ${size} /dev/zero | tr '\\0' a; exit 0`], { timeoutMs: 180_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(size);
    const mon = suite.monitorPid();
    let peak = rssMiB(mon);
    const sample = setInterval(() => (peak = Math.max(peak, rssMiB(mon))), 50);
    const logs = await suite.docker(['logs', 'mk-flood'], { timeoutMs: 180_000 });
    clearInterval(sample);
    expect(logs.stdout.length).toBe(size);
    expect(/^a+$/.test(logs.stdout)).toBe(true);
    console.log(`monitor RSS peak while serving 64 MiB of logs: ${peak.toFixed(1)} MiB`);
    expect(peak).toBeLessThan(200);
  });

  it('a container that closes its stdout early still has its stderr logged and its exit code', async () => {
    const r = await suite.docker(['run', '--name', 'mk-closed', 'busybox', 'sh', '-c', 'exec 1>&-; echo still-here >&2; sleep 1; exit 5']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('still-here');
    expect((await suite.docker(['logs', 'mk-closed'])).stderr).toBe('still-here\n');
  });

  it('500 exec sessions: each answers, the monitor does not grow', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'mk-exec', 'busybox', 'sleep', '600'])).code).toBe(0);
    const once = async (i: number) => {
      const c = await suite.api('POST', '/containers/mk-exec/exec', { Cmd: ['echo', `n${i}`], AttachStdout: true, AttachStderr: true });
      expect(c.status).toBe(201);
      const { Id } = JSON.parse(c.body) as { Id: string };
      const s = await suite.api('POST', `/exec/${Id}/start`, { Detach: false, Tty: false });
      expect(s.status).toBe(200);
      expect(s.body).toContain(`n${i}`);
    };
    // Four sessions at a time keep the file inside CI's budget; 500 still go through one monitor.
    const batch = async (from: number, to: number) => {
      for (let i = from; i < to; i += 4) await Promise.all([0, 1, 2, 3].map((k) => once(i + k)));
    };
    await batch(0, 52);
    const mon = suite.monitorPid();
    const warm = rssMiB(mon);
    await batch(52, 500);
    const end = rssMiB(mon);
    console.log(`monitor RSS after 50 execs ${warm.toFixed(1)} MiB, after 500 ${end.toFixed(1)} MiB`);
    expect(end).toBeLessThan(warm + 40);
  }, 600_000);
});
