/**
 * The container monitor (issue 13), as numbers beside the reference engine in one run:
 *   - PSS per running container at each count (default 20 and 100): the monitor's processes only
 *     (Node shims and their `runc run`; or the one monitor and its conmons; dockerd's
 *     containerd-shims), summed and divided by the count;
 *   - engine PSS in all with that many containers (services, monitors; dockerd + containerd + shims);
 *   - `docker run --rm busybox true` median and `docker run -d` median over --runs runs, and
 *     `docker run -d` at concurrency 4 (wall time / containers).
 * Both Berth monitors (`--default-monitor shim|conmon`) and the reference dockerd, --network none.
 * Usage: npx tsx tools/bench/monitor-bench.ts [--runs 9] [--counts 20,100] [--no-reference]
 */
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';
import { pidsWhere, pss } from './proc-memory';

const RUNS = numberOption('--runs', 9);
const argv = process.argv.slice(2);
const COUNTS = (argv.includes('--counts') ? argv[argv.indexOf('--counts') + 1]! : '20,100').split(',').map(Number);
const MiB = 2 ** 20;

const sum = (pids: number[]) => pids.reduce((n, p) => n + pss(p), 0);

interface EngineFigures {
  runRmMs: ReturnType<typeof stats>;
  runDMs: ReturnType<typeof stats>;
  runDConcurrent4MsEach: number;
  byCount: { containers: number; monitorPssPerContainerMiB: number; engineTotalPssMiB: number; monitorProcesses: number }[];
}

async function measure(docker: Docker, monitorPids: () => number[], enginePids: () => number[]): Promise<EngineFigures> {
  const ok = async (a: string[]) => {
    const r = await docker(a);
    if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  };
  await ok(['run', '--rm', '--network', 'none', 'busybox', 'true']);
  const runRm: number[] = [];
  for (let i = 0; i < RUNS; i++) runRm.push(await timed(() => ok(['run', '--rm', '--network', 'none', 'busybox', 'true'])));
  const runD: number[] = [];
  let n = 0;
  const start = () => ok(['run', '-d', '--network', 'none', '--name', `mb${n++}`, 'busybox', 'sleep', '3600']);
  for (let i = 0; i < RUNS; i++) runD.push(await timed(start));
  // Up to the first count at concurrency 4, so that count is met exactly.
  const conc = Math.max(4, COUNTS[0]! - n);
  const wall = await timed(async () => {
    let left = conc;
    await Promise.all(
      [0, 1, 2, 3].map(async () => {
        while (left-- > 0) await start();
      }),
    );
  });
  const byCount: EngineFigures['byCount'] = [];
  for (const c of COUNTS) {
    while (n < c) await start();
    await new Promise((r) => setTimeout(r, 3_000));
    const mons = monitorPids();
    byCount.push({ containers: n, monitorPssPerContainerMiB: sum(mons) / n / MiB, engineTotalPssMiB: sum(enginePids()) / MiB, monitorProcesses: mons.length });
  }
  const names = Array.from({ length: n }, (_, i) => `mb${i}`);
  for (let i = 0; i < names.length; i += 25) await docker(['rm', '-f', ...names.slice(i, i + 25)]);
  return { runRmMs: stats(runRm), runDMs: stats(runD), runDConcurrent4MsEach: wall / conc, byCount };
}

async function berth(monitor: 'shim' | 'conmon', busybox: string): Promise<EngineFigures> {
  const suite = await Suite.start(['--default-monitor', monitor]);
  try {
    await suite.docker(['load', '-i', busybox]);
    const root = suite.execRoot;
    const launcher = suite.state().pid;
    const mine = (cmd: string[]) => cmd.some((a) => a.includes(root));
    // A Node shim's container is a child of its `runc run`, which the shim started: both are the monitor.
    const monitorPids = () =>
      monitor === 'shim'
        ? pidsWhere((c) => mine(c) && (c.some((a) => a.endsWith('apps/shim/main.js')) || (c[0]!.endsWith('runc') && c.includes('run'))))
        : pidsWhere((c) => mine(c) && (c.some((a) => a.endsWith('apps/monitor/main.js')) || c[0]!.endsWith('conmon')));
    const enginePids = () => [launcher, ...pidsWhere(mine)].filter((p, i, a) => a.indexOf(p) === i);
    return await measure((a) => suite.docker(a, { timeoutMs: 300_000 }), monitorPids, enginePids);
  } finally {
    await suite.removeAllContainers().catch(() => undefined);
    await suite.stop();
  }
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const shim = await berth('shim', fx.busybox);
  const conmon = await berth('conmon', fx.busybox);
  const reference = await withReferenceEngine(async (docker, ref) => {
    await docker(['load', '-i', fx.busybox]);
    const mine = (c: string[]) => c.some((a) => a.includes(ref.base) || a.includes('berth-bench'));
    return measure(
      docker,
      () => pidsWhere((c) => mine(c) && c[0]!.includes('containerd-shim')),
      () => [ref.pid, ...pidsWhere(mine)].filter((p, i, a) => a.indexOf(p) === i),
    );
  });
  const ratio = (a: number, b: number | undefined) => (b ? Number((a / b).toFixed(2)) : null);
  console.log(
    JSON.stringify(
      {
        runs: RUNS,
        shim,
        conmon,
        reference: reference ?? null,
        conmonOverReference: reference
          ? { runRm: ratio(conmon.runRmMs.median, reference.runRmMs.median), runD: ratio(conmon.runDMs.median, reference.runDMs.median), runDConcurrent4: ratio(conmon.runDConcurrent4MsEach, reference.runDConcurrent4MsEach) }
          : null,
      },
      null,
      2,
    ),
  );
}

void main();
