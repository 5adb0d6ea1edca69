/**
 * Benchmarks for the lifecycle (issue #3), reported as numbers, never asserted in tests:
 *   - `docker run --rm busybox true`: median and p90 over N runs, against Berth, against `runc run`
 *     of the same rootfs (the floor), and against a reference dockerd when one is installed;
 *   - memory per running container: PSS of every Berth process (services, shims, runtimes)
 *     with 20 `sleep` containers, minus the idle suite, divided by 20.
 * Both engines run with --network none, so the numbers compare the lifecycle alone.
 * Usage: npx tsx tools/bench/run-bench.ts [--runs 20] [--containers 20] [--no-reference]
 * The reference engine runs with its own data root, exec root and socket under /tmp, never the host's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Suite, run } from '../../tests/support/berth';
import { numberOption, stats, timed, withReferenceEngine } from './common';
import { fixtures } from '../../tests/support/fixtures';

const RUNS = numberOption('--runs', 20);
const CONTAINERS = numberOption('--containers', 20);

async function time(n: number, fn: () => Promise<void>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await timed(fn));
  return out;
}

function pss(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every process whose ancestry or command line ties it to this suite's exec root. */
function berthPids(execRoot: string, launcherPid: number): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (Number(d) === launcherPid || cmd.includes(execRoot)) pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

async function runcFloor(rootfsTar: string): Promise<number[]> {
  const dir = mkdtempSync('/tmp/berth-bench-runc-');
  try {
    mkdirSync(join(dir, 'rootfs'));
    execFileSync('tar', ['-xf', rootfsTar, '-C', join(dir, 'rootfs')]);
    execFileSync('runc', ['spec'], { cwd: dir });
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['/bin/true'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    let i = 0;
    return await time(RUNS, async () => {
      await run('runc', ['--root', join(dir, 'state'), 'run', '--bundle', dir, `bench-${process.pid}-${i++}`]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ReferenceResult {
  runMs: number[];
  perContainerPssMiB: number;
}

async function reference(busybox: string): Promise<ReferenceResult | undefined> {
  return withReferenceEngine(async (docker, ref) => {
    await docker(['load', '-i', busybox]);
    const runMs = await time(RUNS, async () => {
      await docker(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    });
    // dockerd, its containerd and the shims all carry the base dir or the namespace on their command line.
    const refPids = () => [ref.pid, ...berthPids(ref.base, -1), ...berthPids('berth-bench', -1)].filter((p, i, a) => a.indexOf(p) === i);
    const idle = refPids().reduce((n, p) => n + pss(p), 0);
    for (let i = 0; i < CONTAINERS; i++) await docker(['run', '-d', '--network', 'none', '--name', `mem${i}`, 'busybox', 'sleep', '1000']);
    await new Promise((r) => setTimeout(r, 2000));
    const busy = refPids().reduce((n, p) => n + pss(p), 0);
    await docker(['rm', '-f', ...Array.from({ length: CONTAINERS }, (_, i) => `mem${i}`)]);
    return { runMs, perContainerPssMiB: (busy - idle) / CONTAINERS / 2 ** 20 };
  });
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const suite = await Suite.start();
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    const berth = await time(RUNS, async () => {
      const r = await suite.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']);
      if (r.code !== 0) throw new Error(r.stderr);
    });
    const floor = await runcFloor(fx.rootfs);
    const launcherPid = suite.state().pid;
    const idle = berthPids(suite.execRoot, launcherPid).reduce((n, p) => n + pss(p), 0);
    for (let i = 0; i < CONTAINERS; i++) await suite.docker(['run', '-d', '--name', `mem${i}`, 'busybox', 'sleep', '1000']);
    await new Promise((r) => setTimeout(r, 2000));
    const busy = berthPids(suite.execRoot, launcherPid).reduce((n, p) => n + pss(p), 0);
    await suite.docker(['rm', '-f', ...Array.from({ length: CONTAINERS }, (_, i) => `mem${i}`)]);
    const ref = await reference(fx.busybox);
    const b = stats(berth);
    const f = stats(floor);
    const result = {
      runs: RUNS,
      runRmTrueMs: { berth: b, runcFloor: f, reference: ref ? stats(ref.runMs) : null, berthOverReference: ref ? b.median / stats(ref.runMs).median : null },
      memory: {
        containers: CONTAINERS,
        idleSuitePssMiB: idle / 2 ** 20,
        withContainersPssMiB: busy / 2 ** 20,
        perContainerPssMiB: (busy - idle) / CONTAINERS / 2 ** 20,
        referencePerContainerPssMiB: ref ? ref.perContainerPssMiB : null,
      },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await suite.stop();
  }
}

void main();
