/**
 * `docker stats --no-stream` with many running containers (issue #12), reported as numbers, never
 * asserted in tests: the wall time of the whole command (every container's one sample, as the CLI
 * asks for them one by one) with 20 and then 100 `sleep` containers, median and p90 over N runs,
 * Berth beside a reference dockerd started for the run (its own roots and socket, never the host's).
 * Both engines run the containers with --network none, so the figures compare stats alone.
 * Usage: npx tsx tools/bench/stats-bench.ts [--runs 9] [--counts 20,100] [--no-reference]
 */
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';

const RUNS = Math.max(9, numberOption('--runs', 9));
const countsArg = process.argv.indexOf('--counts');
const COUNTS = (countsArg >= 0 ? process.argv[countsArg + 1]! : '20,100').split(',').map(Number).sort((a, b) => a - b);

interface Row {
  containers: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

/** Grows the set of running containers to each count in turn and times `stats --no-stream` there. */
async function measure(engine: string, docker: Docker): Promise<Row[]> {
  const rows: Row[] = [];
  let running = 0;
  for (const n of COUNTS) {
    while (running < n) {
      const r = await docker(['run', '-d', '--network', 'none', '--name', `statsbench-${running}`, 'busybox', 'sleep', '3600']);
      if (r.code !== 0) throw new Error(`${engine}: run ${running}: ${r.stderr}`);
      running++;
    }
    const once = async () => {
      const r = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}}']);
      if (r.code !== 0) throw new Error(`${engine}: stats: ${r.stderr}`);
      const listed = r.stdout.split('\n').filter((l) => l.startsWith('statsbench-')).length;
      if (listed !== n) throw new Error(`${engine}: stats listed ${listed} of ${n} containers`);
    };
    await once(); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) ms.push(await timed(once));
    const s = stats(ms);
    rows.push({ containers: n, ...s });
    process.stderr.write(`${engine}: ${n} containers: median ${s.median.toFixed(0)} ms\n`);
  }
  const ids = (await docker(['ps', '-aq'])).stdout.trim();
  if (ids) await docker(['rm', '-f', ...ids.split('\n')]);
  return rows;
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const suite = await Suite.start();
  let berth: Row[];
  try {
    const load = await suite.docker(['load', '-i', fx.busybox]);
    if (load.code !== 0) throw new Error(load.stderr);
    berth = await measure('berth', (a) => suite.docker(a, { timeoutMs: 600_000 }));
  } finally {
    await suite.stop();
  }
  const reference = await withReferenceEngine(async (docker) => {
    const load = await docker(['load', '-i', fx.busybox]);
    if (load.code !== 0) throw new Error(load.stderr);
    return measure('dockerd', docker);
  });
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  console.log(`docker stats --no-stream, ${RUNS} runs each (median / p90 / min / max)`);
  for (const [i, b] of berth.entries()) {
    const r = reference?.[i];
    console.log(
      `${String(b.containers).padStart(4)} containers  berth ${ms(b.median)} / ${ms(b.p90)} / ${ms(b.min)} / ${ms(b.max)}` +
        (r ? `   dockerd ${ms(r.median)} / ${ms(r.p90)} / ${ms(r.min)} / ${ms(r.max)}` : '   dockerd: not run'),
    );
  }
  console.log(JSON.stringify({ runs: RUNS, berth, dockerd: reference ?? null }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
