/**
 * What starting the builder on its first use costs the first `docker build` (issue 13): per
 * round a fresh suite (builder idle), then a two-step build (FROM scratch, COPY) from the idle
 * builder, then the same build with --no-cache against the running builder. Reports medians over
 * --runs rounds of both and of their difference per round, and the builder's PSS once started.
 * Usage: npx tsx tools/bench/builder-start-bench.ts [--runs 9]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, Suite } from '../../tests/support/berth';
import { numberOption, stats, timed } from './common';
import { procMemory } from './proc-memory';

const RUNS = numberOption('--runs', 9);

async function main(): Promise<void> {
  const ctx = mkdtempSync('/tmp/berth-bench-ondemand-');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const firstMs: number[] = [];
  const warmMs: number[] = [];
  const extraMs: number[] = [];
  const builderPssMiB: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const suite = await Suite.start();
      try {
        if (suite.state().children.builder?.status !== 'idle') throw new Error('the builder is not idle in a fresh suite');
        const build = (extra: string[]) => async () => {
          const r = await suite.docker(['build', '-q', ...extra, '-t', 'bench/ondemand:1', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 300_000 });
          if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
        };
        const first = await timed(build([]));
        const warm = await timed(build(['--no-cache']));
        firstMs.push(first);
        warmMs.push(warm);
        extraMs.push(first - warm);
        builderPssMiB.push(procMemory(suite.state().children.builder!.pid).pss / 2 ** 20);
      } finally {
        await suite.stop();
      }
    }
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  const r = (xs: number[]) => Object.fromEntries(Object.entries(stats(xs)).map(([k, v]) => [k, Math.round(v)]));
  console.log(
    JSON.stringify(
      {
        runs: RUNS,
        load: (await run('uptime', [])).stdout.trim(),
        firstBuildFromIdleMs: r(firstMs),
        sameBuildBuilderRunningMs: r(warmMs),
        extraOfFirstBuildMs: r(extraMs),
        builderPssAfterOneBuildMiB: Number(stats(builderPssMiB).median.toFixed(1)),
      },
      null,
      2,
    ),
  );
}

void main();
