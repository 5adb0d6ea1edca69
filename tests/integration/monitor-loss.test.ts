import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

function monitorPid(id: string): number {
  const pid = suite.monitorPid(id);
  if (!pid) throw new Error(`no monitor for ${id}`);
  return pid;
}

async function runningWithoutMonitor(name: string): Promise<{ id: string; pid: number }> {
  expect((await suite.docker(['run', '-d', '--name', name, 'busybox', 'sleep', '300'])).code).toBe(0);
  const [id, pid] = (await suite.docker(['inspect', '--format', '{{.Id}} {{.State.Pid}}', name])).stdout.trim().split(' ');
  const mon = monitorPid(id!);
  process.kill(mon, 'SIGKILL');
  await eventually(async () => alive(mon), (a) => !a);
  return { id: id!, pid: Number(pid) };
}

const state = async (name: string) => (await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();

describe('a container whose monitor is gone', () => {
  it('still stops: docker stop -t 2 returns and the exit code is the signal\'s', async () => {
    const { pid } = await runningWithoutMonitor('nomon-stop');
    expect(await state('nomon-stop')).toBe('running 0');
    const r = await suite.docker(['stop', '-t', '2', 'nomon-stop'], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(alive(pid)).toBe(false);
    // sleep as pid 1 ignores SIGTERM: the SIGKILL after the timeout ends it.
    expect(await state('nomon-stop')).toBe('exited 137');
    expect((await suite.docker(['rm', 'nomon-stop'], { timeoutMs: 60_000 })).code).toBe(0);
  });

  it('follows the truth when the process ends on its own', async () => {
    const { pid } = await runningWithoutMonitor('nomon-die');
    process.kill(pid, 'SIGKILL');
    const s = await eventually(() => state('nomon-die'), (v) => !v.startsWith('running'), 30_000);
    expect(s).toMatch(/^exited /);
    expect((await suite.docker(['start', 'nomon-die'])).code).toBe(0);
    expect(await state('nomon-die')).toBe('running 0');
    expect((await suite.docker(['rm', '-f', 'nomon-die'], { timeoutMs: 60_000 })).code).toBe(0);
  });

  it('is removed by rm -f', async () => {
    const { pid } = await runningWithoutMonitor('nomon-rm');
    const r = await suite.docker(['rm', '-f', 'nomon-rm'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect((await suite.docker(['ps', '-aq', '--filter', 'name=nomon-rm'])).stdout).toBe('');
  });
});
