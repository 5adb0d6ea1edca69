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
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Suite, run } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = opt('--runs', 20);
const CONTAINERS = opt('--containers', 20);

function stats(ms: number[]): { median: number; p90: number; min: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!, min: s[0]! };
}

async function time(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  await fn(); // warm-up
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
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
  if (args.includes('--no-reference') || !existsSync('/usr/sbin/dockerd')) return undefined;
  const base = mkdtempSync('/tmp/berth-bench-ref-');
  const sock = join(base, 'docker.sock');
  const d: ChildProcess = spawn(
    '/usr/sbin/dockerd',
    ['--data-root', join(base, 'data'), '--exec-root', join(base, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(base, 'dockerd.pid'), '--iptables=false', '--bridge=none', '--containerd-namespace', 'berth-bench', '--containerd-plugins-namespace', 'berth-bench-p'],
    { stdio: 'ignore' },
  );
  const env = { DOCKER_HOST: `unix://${sock}` };
  try {
    for (let i = 0; i < 100 && (await run('docker', ['version'], { env })).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
    await run('docker', ['load', '-i', busybox], { env });
    const runMs = await time(RUNS, async () => {
      await run('docker', ['run', '--rm', '--network', 'none', 'busybox', 'true'], { env });
    });
    // dockerd, its containerd and the shims all carry the base dir or the namespace on their command line.
    const refPids = () => [d.pid!, ...berthPids(base, -1), ...berthPids('berth-bench', -1)].filter((p, i, a) => a.indexOf(p) === i);
    const idle = refPids().reduce((n, p) => n + pss(p), 0);
    for (let i = 0; i < CONTAINERS; i++) await run('docker', ['run', '-d', '--network', 'none', '--name', `mem${i}`, 'busybox', 'sleep', '1000'], { env });
    await new Promise((r) => setTimeout(r, 2000));
    const busy = refPids().reduce((n, p) => n + pss(p), 0);
    await run('docker', ['rm', '-f', ...Array.from({ length: CONTAINERS }, (_, i) => `mem${i}`)], { env });
    return { runMs, perContainerPssMiB: (busy - idle) / CONTAINERS / 2 ** 20 };
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    execFileSync('sh', ['-c', `grep ' ${base}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
    rmSync(base, { recursive: true, force: true });
  }
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
