/**
 * The `docker run` path, step by step (issue 13): runs `docker run --rm busybox true` and
 * `docker run -d busybox sleep` against a suite whose services have `BERTH_TRACE` set
 * (libs/logging/src/trace.ts), and prints, per step, the median start offset from the moment the
 * CLI was launched and the median duration over --runs runs; then the whole command's median beside
 * the reference dockerd's, measured in the same run.
 * Usage: npx tsx tools/bench/run-trace.ts [--runs 9] [--monitor conmon|shim] [--network none|bridge] [--no-reference]
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';

const RUNS = numberOption('--runs', 9);
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const MONITOR = opt('--monitor', 'conmon');
const NETWORK = opt('--network', 'none');

interface Line {
  svc: string;
  step: string;
  id: string;
  at: number;
  ms: number;
}

interface Sample {
  wallMs: number;
  /** step -> [start offset from the CLI's launch, duration]; a step seen twice in one run is summed. */
  steps: Map<string, [number, number]>;
}

function readFrom(file: string, offset: number): Line[] {
  const text = readFileSync(file, 'utf8').slice(offset);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

async function sampled(file: string, n: number, fn: () => Promise<void>): Promise<Sample[]> {
  await fn(); // warm-up
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const offset = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
    const t0 = Date.now();
    const wallMs = await timed(fn);
    // Removal of a -d container, or the tail of an exit, may still be writing: give it a moment.
    await new Promise((r) => setTimeout(r, 300));
    const steps = new Map<string, [number, number]>();
    for (const l of readFrom(file, offset)) {
      const key = `${l.svc.padEnd(11)} ${l.step}`;
      const prev = steps.get(key);
      const start = l.at - t0;
      steps.set(key, prev ? [Math.min(prev[0], start), prev[1] + l.ms] : [start, l.ms]);
    }
    out.push({ wallMs, steps });
  }
  return out;
}

const median = (xs: number[]) => stats(xs).median;

function table(title: string, samples: Sample[], reference: number | undefined): string {
  const keys = new Set<string>();
  for (const s of samples) for (const k of s.steps.keys()) keys.add(k);
  const rows = [...keys].map((k) => {
    const seen = samples.filter((s) => s.steps.has(k));
    return { k, start: median(seen.map((s) => s.steps.get(k)![0])), ms: median(seen.map((s) => s.steps.get(k)![1])), n: seen.length };
  });
  rows.sort((a, b) => a.start - b.start);
  const wall = median(samples.map((s) => s.wallMs));
  const lines = [
    `## ${title} (median of ${samples.length}; monitor ${MONITOR}, --network ${NETWORK})`,
    '',
    '| from CLI launch (ms) | step | ms | runs |',
    '|---:|---|---:|---:|',
    ...rows.map((r) => `| ${r.start.toFixed(1)} | ${r.k.trim()} | ${r.ms.toFixed(1)} | ${r.n} |`),
    `| | **whole command, Berth** | **${wall.toFixed(1)}** | |`,
  ];
  if (reference !== undefined) lines.push(`| | **whole command, dockerd** | **${reference.toFixed(1)}** (Berth ${(wall / reference).toFixed(2)}×) | |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const dir = mkdtempSync('/tmp/berth-run-trace-');
  const file = join(dir, 'trace.jsonl');
  const suite = await Suite.start(['--default-monitor', MONITOR], 60_000, { env: { BERTH_TRACE: file } });
  let rm: Sample[];
  let d: Sample[];
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    const berth = ok2((a) => suite.docker(a, { timeoutMs: 120_000 }));
    rm = await sampled(file, RUNS, () => berth(['run', '--rm', '--network', NETWORK, 'busybox', 'true']));
    let n = 0;
    d = await sampled(file, RUNS, () => berth(['run', '-d', '--network', NETWORK, '--name', `rt${n++}`, 'busybox', 'sleep', '3600']));
    await suite.docker(['rm', '-f', ...Array.from({ length: n }, (_, i) => `rt${i}`)]);
  } finally {
    await suite.removeAllContainers().catch(() => undefined);
    await suite.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const ref = await withReferenceEngine(async (docker) => {
    const go = ok2(docker);
    await go(['load', '-i', fx.busybox]);
    const times = async (a: () => string[]) => {
      await go(a());
      const out: number[] = [];
      for (let i = 0; i < RUNS; i++) out.push(await timed(() => go(a())));
      return median(out);
    };
    let n = 0;
    const r = await times(() => ['run', '--rm', '--network', 'none', 'busybox', 'true']);
    const dd = await times(() => ['run', '-d', '--network', 'none', '--name', `rt${n++}`, 'busybox', 'sleep', '3600']);
    await docker(['rm', '-f', ...Array.from({ length: n }, (_, i) => `rt${i}`)]);
    return { rm: r, d: dd };
  });
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`load average at the end: ${load}\n`);
  console.log(table('docker run --rm busybox true', rm, ref?.rm));
  console.log('');
  console.log(table('docker run -d busybox sleep 3600', d, ref?.d));
}

function ok2(dk: Docker) {
  return async (a: string[]) => {
    const r = await dk(a);
    if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  };
}

void main();
