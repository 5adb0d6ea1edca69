/**
 * Engine memory per process (issue 13), beside the reference engine in one run:
 *   - PSS of each process (launcher, every service, Redis, the monitor and its conmons; dockerd,
 *     containerd, containerd-shims), idle and with --containers running, medians of --runs
 *     samples one second apart, with the engine's total;
 *   - for each Node process, what its memory is made of: V8 heap used/total, code space,
 *     external/array buffers (the SIGUSR2 report of libs/metrics/memory-report.ts), anonymous vs
 *     file-backed PSS, and the size of its bundle;
 *   - peak RSS of every process while `docker logs` copies a --log-mib log to /dev/null, and to
 *     a reader that stalls for 5 s (what bounded buffering has to hold).
 * Usage: npx tsx tools/bench/memory-bench.ts [--runs 9] [--containers 20] [--log-mib 50]
 *        [--monitor conmon|shim] [--node-flags '<flags for every service>'] [--no-reference] [--no-logs]
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { type Docker, hasFlag, numberOption, withReferenceEngine } from './common';
import { cmdline, pidsWhere, procMemory, resetPeakRss } from './proc-memory';

const RUNS = numberOption('--runs', 9);
const CONTAINERS = numberOption('--containers', 20);
const LOG_MIB = numberOption('--log-mib', 50);
const argv = process.argv.slice(2);
const MONITOR = argv.includes('--monitor') ? argv[argv.indexOf('--monitor') + 1]! : 'conmon';
/** Node flags for every service instead of the launcher's own (BERTH_NODE_FLAGS), to weigh a set. */
const NODE_FLAGS = argv.includes('--node-flags') ? argv[argv.indexOf('--node-flags') + 1]! : undefined;
const MiB = 2 ** 20;
const mib = (b: number) => Number((b / MiB).toFixed(1));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** A named group of processes (a service, or all conmons, or all containerd-shims). */
type Groups = () => Map<string, number[]>;

interface GroupFigures {
  processes: number;
  pssMiB: number;
  pssAnonMiB: number;
  pssFileMiB: number;
  rssMiB: number;
}

/** Medians over RUNS samples, one second apart, per group and of the total. */
/**
 * The total's file-backed part (the node binary's and libc's pages) is divided among every process
 * on the host that maps them, so it moves with what else runs there: the anonymous total is the
 * figure that compares across runs.
 */
async function sample(groups: Groups): Promise<{ totalPssMiB: number; totalPssAnonMiB: number; byProcess: Record<string, GroupFigures> }> {
  const per = new Map<string, { n: number; pss: number[]; anon: number[]; file: number[]; rss: number[] }>();
  const totals: number[] = [];
  const anonTotals: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let total = 0;
    let anon = 0;
    for (const [name, pids] of groups()) {
      const m = pids.map(procMemory);
      const add = (k: 'pss' | 'pssAnon' | 'pssFile' | 'rss') => m.reduce((s, x) => s + x[k], 0);
      const g = per.get(name) ?? { n: 0, pss: [], anon: [], file: [], rss: [] };
      g.n = pids.length;
      g.pss.push(add('pss'));
      g.anon.push(add('pssAnon'));
      g.file.push(add('pssFile'));
      g.rss.push(add('rss'));
      per.set(name, g);
      total += add('pss');
      anon += add('pssAnon');
    }
    totals.push(total);
    anonTotals.push(anon);
    if (i < RUNS - 1) await sleep(1_000);
  }
  const byProcess: Record<string, GroupFigures> = {};
  for (const [name, g] of per) {
    byProcess[name] = { processes: g.n, pssMiB: mib(median(g.pss)), pssAnonMiB: mib(median(g.anon)), pssFileMiB: mib(median(g.file)), rssMiB: mib(median(g.rss)) };
  }
  return { totalPssMiB: mib(median(totals)), totalPssAnonMiB: mib(median(anonTotals)), byProcess };
}

interface NodeReport {
  afterFullGc: NodeReport;
  usage: NodeJS.MemoryUsage;
  heap: { total: number; used: number; limit: number; malloced: number; external: number };
  spaces: Record<string, { size: number; used: number }>;
  execArgv: string[];
}

/** Asks each Node process for its SIGUSR2 memory report (libs/metrics/memory-report.ts). */
async function nodeReports(dir: string, procs: Map<string, number>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, pid] of procs) {
    const file = join(dir, `${name}.${pid}.json`);
    rmSync(file, { force: true });
    try {
      process.kill(pid, 'SIGUSR2');
    } catch {
      continue;
    }
    for (let i = 0; i < 50 && !existsSync(file); i++) await sleep(100);
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8')) as NodeReport;
    out[name] = {
      heapUsedMiB: mib(r.heap.used),
      heapUsedAfterFullGcMiB: mib(r.afterFullGc.heap.used),
      heapTotalMiB: mib(r.heap.total),
      heapLimitMiB: mib(r.heap.limit),
      codeSpaceMiB: mib((r.spaces.code_space?.size ?? 0) + (r.spaces.code_large_object_space?.size ?? 0)),
      newSpaceMiB: mib(r.spaces.new_space?.size ?? 0),
      externalMiB: mib(r.usage.external),
      arrayBuffersMiB: mib(r.usage.arrayBuffers),
      execArgv: r.execArgv.join(' '),
    };
  }
  return out;
}

function bundleKiB(main: string): { mainKiB: number; mapKiB: number } | undefined {
  try {
    return { mainKiB: Math.round(statSync(main).size / 1024), mapKiB: existsSync(`${main}.map`) ? Math.round(statSync(`${main}.map`).size / 1024) : 0 };
  } catch {
    return undefined;
  }
}

const LOG_LINE = 'x'.repeat(99);

/**
 * A container that wrote --log-mib of 100-byte lines and exited; then peak RSS of every process
 * while `docker logs` copies it to /dev/null, and to a reader that stalls 5 s first.
 */
async function logsPeaks(docker: Docker, host: string, groups: Groups): Promise<Record<string, unknown>> {
  const bytes = LOG_MIB * MiB;
  const r = await docker(['run', '-d', '--network', 'none', '--name', 'memlog', 'busybox', 'sh', '-c', `yes ${LOG_LINE} | head -c ${bytes}`]);
  if (r.code !== 0) throw new Error(`log container: ${r.stderr}`);
  for (let i = 0; i < 600; i++) {
    if ((await docker(['inspect', '-f', '{{.State.Running}}', 'memlog'])).stdout.trim() === 'false') break;
    await sleep(500);
  }
  const out: Record<string, unknown> = {};
  const readers = {
    toDevNull: `docker logs memlog >/dev/null`,
    stalledReader: `docker logs memlog | (sleep 5; cat >/dev/null)`,
  };
  for (const [what, cmd] of Object.entries(readers)) {
    const g = groups();
    for (const pids of g.values()) pids.forEach(resetPeakRss);
    const t = Date.now();
    const res = await run('sh', ['-c', `${cmd}; echo $?`], { env: { DOCKER_HOST: host }, timeoutMs: 600_000 });
    const seconds = (Date.now() - t) / 1000;
    const peaks: Record<string, number> = {};
    for (const [name, pids] of g) peaks[name] = mib(Math.max(0, ...pids.map((p) => procMemory(p).hwm)));
    out[what] = { exit: res.stdout.trim(), seconds: Number(seconds.toFixed(2)), peakRssMiB: peaks };
  }
  await docker(['rm', '-f', 'memlog']);
  return out;
}

async function startContainers(docker: Docker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await docker(['run', '-d', '--network', 'none', '--name', `mem${i}`, 'busybox', 'sleep', '3600']);
    if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
  }
  await sleep(3_000);
}

async function removeContainers(docker: Docker, n: number): Promise<void> {
  const names = Array.from({ length: n }, (_, i) => `mem${i}`);
  for (let i = 0; i < names.length; i += 25) await docker(['rm', '-f', ...names.slice(i, i + 25)]);
}

async function berth(busybox: string): Promise<Record<string, unknown>> {
  const suite = await Suite.start(['--default-monitor', MONITOR], 120_000, NODE_FLAGS === undefined ? {} : { env: { BERTH_NODE_FLAGS: NODE_FLAGS } });
  const docker: Docker = (a) => suite.docker(a, { timeoutMs: 300_000 });
  try {
    const load = await docker(['load', '-i', busybox]);
    if (load.code !== 0) throw new Error(load.stderr);
    const root = suite.execRoot;
    const mine = (c: string[]) => c.some((a) => a.includes(root));
    const nameOf = (pid: number): string => {
      const c = cmdline(pid);
      if (c.some((a) => a.endsWith('apps/monitor/main.js'))) return 'monitor';
      if (c.some((a) => /apps\/shim\/.*main\.js$/.test(a))) return 'shims';
      if (c[0]?.endsWith('conmon')) return 'conmons';
      return 'other';
    };
    const groups: Groups = () => {
      const st = suite.state();
      const known = new Map<number, string>([[st.pid, 'launcher'], ...Object.entries(st.children).map(([n, c]) => [c.pid, n] as [number, string])]);
      const g = new Map<string, number[]>();
      for (const pid of new Set([...known.keys(), ...pidsWhere(mine)])) {
        if (pid <= 0) continue;
        const name = known.get(pid) ?? nameOf(pid);
        g.set(name, [...(g.get(name) ?? []), pid]);
      }
      return g;
    };
    const nodeProcs = () => {
      const m = new Map<string, number>();
      for (const [name, pids] of groups()) if (name !== 'redis' && name !== 'conmons' && name !== 'other' && name !== 'shims') m.set(name, pids[0]!);
      return m;
    };
    const dir = join(root, 'memory');
    await sleep(10_000);
    const idle = { ...(await sample(groups)), node: await nodeReports(dir, nodeProcs()) };
    await startContainers(docker, CONTAINERS);
    const busy = { ...(await sample(groups)), node: await nodeReports(dir, nodeProcs()) };
    await removeContainers(docker, CONTAINERS);
    const logs = hasFlag('--no-logs') ? undefined : await logsPeaks(docker, suite.dockerHost, groups);
    const bundles: Record<string, unknown> = { launcher: bundleKiB(join(ROOT, 'dist/tools/launcher/launcher.js')) };
    for (const app of ['gateway', 'images', 'snapshotter', 'supervisor', 'netproxy', 'builder', 'monitor']) bundles[app] = bundleKiB(join(ROOT, 'dist/apps', app, 'main.js'));
    return { monitor: MONITOR, idle, [`with${CONTAINERS}`]: busy, logs, bundles };
  } finally {
    await suite.removeAllContainers().catch(() => undefined);
    await suite.stop();
  }
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const engine = await berth(fx.busybox);
  const reference = await withReferenceEngine(async (docker, ref) => {
    await docker(['load', '-i', fx.busybox]);
    const mine = (c: string[]) => c.some((a) => a.includes(ref.base) || a.includes('berth-bench'));
    const groups: Groups = () => {
      const g = new Map<string, number[]>();
      for (const pid of new Set([ref.pid, ...pidsWhere(mine)])) {
        const c = cmdline(pid)[0] ?? '';
        const name = c.includes('containerd-shim') ? 'containerd-shims' : c.endsWith('containerd') ? 'containerd' : c.endsWith('dockerd') ? 'dockerd' : 'other';
        g.set(name, [...(g.get(name) ?? []), pid]);
      }
      return g;
    };
    await sleep(10_000);
    const idle = await sample(groups);
    await startContainers(docker, CONTAINERS);
    const busy = await sample(groups);
    await removeContainers(docker, CONTAINERS);
    const sock = join(ref.base, 'docker.sock');
    const logs = hasFlag('--no-logs') ? undefined : await logsPeaks(docker, `unix://${sock}`, groups);
    return { idle, [`with${CONTAINERS}`]: busy, logs };
  });
  const busyKey = `with${CONTAINERS}`;
  const total = (x: unknown) => (x as { totalPssMiB: number } | undefined)?.totalPssMiB ?? 0;
  const anon = (x: unknown) => (x as { totalPssAnonMiB: number } | undefined)?.totalPssAnonMiB ?? 0;
  const load = (await run('uptime', [])).stdout.trim();
  console.log(
    JSON.stringify(
      {
        runs: RUNS,
        load,
        berth: engine,
        reference: reference ?? null,
        engineOverReference: reference
          ? { idle: Number((total(engine.idle) / total(reference.idle)).toFixed(2)), [busyKey]: Number((total(engine[busyKey]) / total(reference[busyKey])).toFixed(2)) }
          : null,
        anonOverReference: reference
          ? { idle: Number((anon(engine.idle) / anon(reference.idle)).toFixed(2)), [busyKey]: Number((anon(engine[busyKey]) / anon(reference[busyKey])).toFixed(2)) }
          : null,
      },
      null,
      2,
    ),
  );
}

void main();
