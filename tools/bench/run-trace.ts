/**
 * The `docker run` path, step by step (issue 13): runs `docker run --rm busybox true` and
 * `docker run -d busybox sleep` against a suite whose services have `BERTH_TRACE` set
 * (libs/logging/src/trace.ts), and prints, per step, the median start offset from the moment the
 * CLI was launched and the median duration over --runs runs; then the whole command's median beside
 * the reference dockerd's, measured in the same run; then both commands at concurrency 4 (four
 * clients, --runs commands each): the median command and the wall time per command, both engines.
 * `--timeline` also prints the last run of each command step by step (start and end offsets), where
 * medians taken one step at a time do not add up.
 * Usage: npx tsx tools/bench/run-trace.ts [--runs 9] [--monitor conmon|shim] [--network none|bridge] [--no-reference] [--timeline]
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
  /** This run's lines as [start, end, step] offsets from the CLI's launch, in order. */
  timeline: [number, number, string][];
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
    const timeline: Sample['timeline'] = [];
    for (const l of readFrom(file, offset)) {
      timeline.push([l.at - t0, l.at - t0 + l.ms, `${l.svc.padEnd(11)} ${l.step}`]);
      const key = `${l.svc.padEnd(11)} ${l.step}`;
      const prev = steps.get(key);
      const start = l.at - t0;
      steps.set(key, prev ? [Math.min(prev[0], start), prev[1] + l.ms] : [start, l.ms]);
    }
    out.push({ wallMs, steps, timeline: timeline.sort((a, b) => a[0] - b[0]) });
  }
  return out;
}

const median = (xs: number[]) => stats(xs).median;

/** Four clients, RUNS commands each: the median command's time and the wall time per command. */
async function concurrent4(cmd: (i: number) => Promise<void>): Promise<{ median: number; eachMs: number }> {
  let n = 0;
  const times: number[] = [];
  const wall = await timed(() =>
    Promise.all(
      [0, 1, 2, 3].map(async () => {
        for (let k = 0; k < RUNS; k++) times.push(await timed(() => cmd(n++)));
      }),
    ),
  );
  return { median: median(times), eachMs: wall / times.length };
}

interface Conc {
  rm: { median: number; eachMs: number };
  d: { median: number; eachMs: number };
}

async function concurrentBoth(go: (a: string[]) => Promise<void>, rmAll: (names: string[]) => Promise<unknown>, network: string): Promise<Conc> {
  const rm = await concurrent4(() => go(['run', '--rm', '--network', network, 'busybox', 'true']));
  const names: string[] = [];
  const d = await concurrent4((i) => {
    names.push(`rc${i}`);
    return go(['run', '-d', '--network', network, '--name', `rc${i}`, 'busybox', 'sleep', '3600']);
  });
  for (let i = 0; i < names.length; i += 25) await rmAll(names.slice(i, i + 25));
  return { rm, d };
}

function concTable(berth: Conc, ref: Conc | undefined): string {
  const row = (what: string, b: { median: number; eachMs: number }, r?: { median: number; eachMs: number }) =>
    `| ${what} | ${b.median.toFixed(1)} | ${r ? r.median.toFixed(1) : '-'} | ${r ? (b.median / r.median).toFixed(2) + '×' : '-'} | ${b.eachMs.toFixed(1)} | ${r ? r.eachMs.toFixed(1) : '-'} | ${r ? (b.eachMs / r.eachMs).toFixed(2) + '×' : '-'} |`;
  return [
    `## concurrency 4 (${4 * RUNS} commands each; monitor ${MONITOR}, --network ${NETWORK})`,
    '',
    '| command | median Berth (ms) | median dockerd (ms) | ratio | wall/command Berth | wall/command dockerd | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('run --rm busybox true', berth.rm, ref?.rm),
    row('run -d busybox sleep', berth.d, ref?.d),
  ].join('\n');
}

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
  if (argv.includes('--timeline')) {
    const last = samples[samples.length - 1]!;
    lines.push('', `last run (${last.wallMs.toFixed(0)} ms), start and end from the CLI's launch:`, '```');
    for (const [a, b, k] of last.timeline) lines.push(`${a.toFixed(0).padStart(5)} ${b.toFixed(0).padStart(5)}  ${k}`);
    lines.push('```');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const dir = mkdtempSync('/tmp/berth-run-trace-');
  const file = join(dir, 'trace.jsonl');
  const suite = await Suite.start(['--default-monitor', MONITOR], 60_000, { env: { BERTH_TRACE: file } });
  let rm: Sample[];
  let d: Sample[];
  let conc: Conc;
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    const berth = ok2((a) => suite.docker(a, { timeoutMs: 120_000 }));
    rm = await sampled(file, RUNS, () => berth(['run', '--rm', '--network', NETWORK, 'busybox', 'true']));
    let n = 0;
    d = await sampled(file, RUNS, () => berth(['run', '-d', '--network', NETWORK, '--name', `rt${n++}`, 'busybox', 'sleep', '3600']));
    await suite.docker(['rm', '-f', ...Array.from({ length: n }, (_, i) => `rt${i}`)]);
    conc = await concurrentBoth(berth, (names) => suite.docker(['rm', '-f', ...names]), NETWORK);
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
    const c = await concurrentBoth(go, (names) => docker(['rm', '-f', ...names]), 'none');
    return { rm: r, d: dd, conc: c };
  });
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`load average at the end: ${load}\n`);
  console.log(table('docker run --rm busybox true', rm, ref?.rm));
  console.log('');
  console.log(table('docker run -d busybox sleep 3600', d, ref?.d));
  console.log('');
  console.log(concTable(conc, ref?.conc));
}

function ok2(dk: Docker) {
  return async (a: string[]) => {
    const r = await dk(a);
    if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  };
}

void main();
