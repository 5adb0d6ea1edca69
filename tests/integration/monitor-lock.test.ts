import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// One conmon monitor per exec root: a second one (two supervisors raced to start one across a
// supervisor restart) must serve nothing, or both adopt the same containers and rebind their sockets.
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s), ['--default-monitor', 'conmon']);

const inspect = async (name: string, f: string) => (await suite.docker(['inspect', '--format', f, name])).stdout.trim();
const stateDir = () => join(suite.execRoot, 'monitor');
const lockPid = () => Number(readFileSync(join(stateDir(), 'monitor.lock'), 'utf8').trim());

/** Every conmon monitor process of this suite's exec root. */
function monitors(): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('apps/monitor/main.js')) && cmd[cmd.indexOf('--state') + 1] === stateDir()) found.push(Number(p));
    } catch {
      // gone
    }
  }
  return found.sort();
}

/** The files a process holds open. */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((n) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${n}`);
    } catch {
      return '';
    }
  });
}

/** A monitor started as the supervisor starts one (`cmd` is a running one's command line), logging where it does. */
function startMonitor(cmd: string[]): { proc: ChildProcess; exited: Promise<number | string> } {
  const log = openSync(join(stateDir(), 'monitor.log'), 'a');
  const proc = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: ['ignore', log, log], cwd: stateDir() });
  closeSync(log);
  proc.unref();
  return { proc, exited: new Promise((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1))) };
}

/** The log lines of monitor `pid`. */
function logOf(pid: number): string[] {
  return readFileSync(join(stateDir(), 'monitor.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"pid":${pid},`));
}

const socketOf = (id: string) => (JSON.parse(readFileSync(join(suite.execRoot, 'bundles', id, 'shim.json'), 'utf8')) as { socket: string }).socket;

describe('one conmon monitor per exec root', () => {
  it('a second monitor beside a serving one exits 0 without touching any socket', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'ml-one', 'busybox', 'sleep', '300'])).code).toBe(0);
    const id = await inspect('ml-one', '{{.Id}}');
    const mon = suite.monitorPid();
    expect(monitors()).toEqual([mon]);
    expect(lockPid()).toBe(mon);
    const cmd = readFileSync(`/proc/${mon}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const sockets = [socketOf(id), join(suite.execRoot, 'monitor.sock')];
    const inodes = sockets.map((s) => statSync(s).ino);

    const second = startMonitor(cmd);
    expect(await second.exited).toBe(0);
    expect(logOf(second.proc.pid!).join('\n')).toContain('another monitor serves this state dir');
    expect(logOf(second.proc.pid!).join('\n')).not.toContain('serving');
    // A rebind unlinks the socket file and makes a new one.
    expect(sockets.map((s) => statSync(s).ino)).toEqual(inodes);
    expect(monitors()).toEqual([mon]);
    expect(lockPid()).toBe(mon);
    expect((await suite.docker(['exec', 'ml-one', 'true'])).code).toBe(0);
  });

  it('two started at once: one serves, the other exits 0; after kill -9 of the one, the next takes over', async () => {
    const mon = suite.monitorPid();
    const cmd = readFileSync(`/proc/${mon}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // Held, so that it starts no monitor of its own meanwhile.
    const sup = suite.state().children.supervisor!.pid;
    process.kill(sup, 'SIGSTOP');
    let served = 0;
    try {
      process.kill(mon, 'SIGKILL');
      await eventually(async () => alive(mon), (x) => !x);
      const a = startMonitor(cmd);
      const b = startMonitor(cmd);
      // The first to end is the one that found the other holding the state dir.
      const loser = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
      const winner = loser === a ? b : a;
      served = winner.proc.pid!;
      expect(await loser.exited).toBe(0);
      expect(logOf(loser.proc.pid!).join('\n')).toContain('another monitor serves this state dir');
      expect(logOf(loser.proc.pid!).join('\n')).not.toContain('serving');
      await new Promise((r) => setTimeout(r, 500));
      expect(alive(winner.proc.pid!)).toBe(true);
      expect(monitors()).toEqual([winner.proc.pid]);
      expect(lockPid()).toBe(winner.proc.pid);
      expect(logOf(winner.proc.pid!).join('\n')).toContain('monitor serving');
    } finally {
      process.kill(sup, 'SIGCONT');
    }
    expect((await suite.docker(['exec', 'ml-one', 'true'], { timeoutMs: 60_000 })).code).toBe(0);
    expect(suite.monitorPid()).toBe(served);

    // A conmon this monitor starts does not inherit the lock's fd, nor does the container.
    expect((await suite.docker(['run', '-d', '--name', 'ml-two', 'busybox', 'sleep', '300'])).code).toBe(0);
    const id2 = await inspect('ml-two', '{{.Id}}');
    const conmon = Number(readFileSync(join(suite.execRoot, 'bundles', id2, 'conmon', 'conmon.pid'), 'utf8'));
    const lock = realpathSync(join(stateDir(), 'monitor.lock'));
    expect(openFiles(served)).toContain(lock);
    expect(openFiles(conmon)).not.toContain(lock);
    expect(openFiles(Number(await inspect('ml-two', '{{.State.Pid}}')))).not.toContain(lock);

    // Killed, it leaves no lock behind: the next call starts a monitor that takes it and serves both.
    process.kill(served, 'SIGKILL');
    await eventually(async () => alive(served), (x) => !x);
    expect((await suite.docker(['exec', 'ml-one', 'true'], { timeoutMs: 60_000 })).code).toBe(0);
    const next = suite.monitorPid();
    expect(next).not.toBe(served);
    expect(monitors()).toEqual([next]);
    expect(lockPid()).toBe(next);
    expect((await suite.docker(['exec', 'ml-two', 'true'])).code).toBe(0);
  });
});
