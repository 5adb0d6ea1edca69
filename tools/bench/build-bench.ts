/**
 * `docker build` time (issue #11), reported as numbers, never asserted in tests: a 10-step
 * Dockerfile (metadata, COPY and RUN steps) built
 *   - cold: `--no-cache`, the base image already present;
 *   - fully cached: the same build again, every step `Using cache`;
 * medians over N runs each, Berth beside the reference dockerd's classic builder
 * (DOCKER_BUILDKIT=0) in the same run. RUN steps use `--network none` on both, as the reference
 * engine runs without a bridge.
 * Usage: npx tsx tools/bench/build-bench.ts [--runs 9] [--no-reference]
 */
import { rmSync } from 'node:fs';
import { buildBenchContext } from './build-context';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';

const RUNS = numberOption('--runs', 9);

async function measure(docker: Docker, ctx: string): Promise<{ coldMs: number[]; cachedMs: number[] }> {
  const build = async (extra: string[]) => {
    const r = await docker(['build', '-q', '--network', 'none', ...extra, '-t', 'bench/build:1', ctx]);
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  };
  await build([]); // warm-up: page cache, the base image's first use
  const coldMs: number[] = [];
  const cachedMs: number[] = [];
  for (let i = 0; i < RUNS; i++) coldMs.push(await timed(() => build(['--no-cache'])));
  for (let i = 0; i < RUNS; i++) cachedMs.push(await timed(() => build([])));
  return { coldMs, cachedMs };
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const ctx = buildBenchContext();
  // Both CLIs take the classic builder API (the CLI's environment is inherited by every run).
  process.env.DOCKER_BUILDKIT = '0';
  try {
    const suite = await Suite.start();
    let berth: { coldMs: number[]; cachedMs: number[] };
    try {
      await suite.docker(['load', '-i', fx.busybox]);
      berth = await measure((a) => suite.docker(a, { timeoutMs: 600_000 }), ctx);
    } finally {
      await suite.stop();
    }
    const ref = await withReferenceEngine(async (docker) => {
      await docker(['load', '-i', fx.busybox]);
      return measure(docker, ctx);
    });
    const b = { cold: stats(berth.coldMs), cached: stats(berth.cachedMs) };
    const r = ref ? { cold: stats(ref.coldMs), cached: stats(ref.cachedMs) } : null;
    console.log(
      JSON.stringify(
        {
          runs: RUNS,
          steps: 10,
          coldMs: { berth: b.cold, reference: r?.cold ?? null, berthOverReference: r ? b.cold.median / r.cold.median : null },
          cachedMs: { berth: b.cached, reference: r?.cached ?? null, berthOverReference: r ? b.cached.median / r.cached.median : null },
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

void main();
