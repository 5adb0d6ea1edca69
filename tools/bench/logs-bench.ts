/**
 * `docker logs` throughput (issue #13), reported as numbers, never asserted in tests:
 *   - `docker logs` of a 50 MiB json-file log (819,200 rows), MB/s of the log read, beside
 *     `cat` of the file through a trivial stdcopy-sized demultiplexer (the floor), `curl` of the
 *     same logs request (the engine's own rate, without the CLI's system call per frame), and
 *     `docker logs` of a log of one stream only (where the CLI's frames are few);
 *   - `docker logs --tail 10` of a 1 GiB log, ms;
 *   - `docker logs -f` latency of a new line: the container prints its clock each 200 ms and the
 *     bench subtracts it from the time the line reaches the CLI's stdout, ms;
 *   - the CLI's own ceiling for each of the two 50 MiB logs: the engine's answers to the CLI's
 *     ping, inspect and logs request captured and served from memory (captured-engine.ts), the
 *     real `docker logs` timed against that;
 *   - peak RSS (VmHWM) of the container's shim and of the gateway over the runs.
 * The logs are written straight into the stopped container's LogPath (the layout json-file
 * writes), so the numbers are the read path alone.
 * Usage: npx tsx tools/bench/logs-bench.ts [--runs 5] [--no-reference]
 * The reference engine (when /usr/sbin/dockerd exists) runs with its own roots and socket under /tmp.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';
import { writeLog } from './log-fixture';
import { capture, serveCaptured } from './captured-engine';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';

const RUNS = numberOption('--runs', 5);
const MiB = 1024 * 1024;

/**
 * Under conmon (the default monitor; BERTH_TEST_MONITOR=shim for the Node shim) Berth's
 * containers keep conmon's k8s-file log (the same lines in its own row layout, converted when
 * read); dockerd's are json-file.
 */
const K8S = (process.env.BERTH_TEST_MONITOR ?? 'conmon') === 'conmon';

function hwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Milliseconds a command took, its stdout drained (and counted, not kept). */
function stream(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    p.stdout.on('data', (d: Buffer) => (bytes += d.length));
    p.stderr.on('data', (d: Buffer) => (bytes += d.length));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, bytes }) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`))));
  });
}

/** The host's /proc/uptime (10 ms steps), the clock a container shares with us: busybox's date has no %N. */
function uptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** ms (to 10 ms) from the container printing its clock to the line reaching `docker logs -f`. */
function followLatency(env: NodeJS.ProcessEnv, id: string, lines: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', ['logs', '-f', '--tail', '0', id], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const out: number[] = [];
    let rest = '';
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error('logs -f gave no lines in 60 s'));
    }, 60_000);
    p.stdout.on('data', (d: Buffer) => {
      const now = uptime();
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      for (const l of parts) if (/^\d+\.\d\d /.test(l)) out.push((now - Number(l.split(' ')[0])) * 1000);
      if (out.length >= lines) {
        clearTimeout(timer);
        p.kill();
        resolve(out);
      }
    });
  });
}

interface Result {
  mbps: number;
  curlMbps: number;
  oneStreamMbps: number;
  ceilingMbps: number;
  oneStreamCeilingMbps: number;
  tailMs: number;
  followMs: number;
  floorMbps: number;
}

async function bench(docker: Docker, env: NodeJS.ProcessEnv, rss: () => string, k8s = false): Promise<Result & { rss: string }> {
  const name = `logs-bench-${process.pid}`;
  const c = await docker(['run', '--name', name, 'busybox', 'true']);
  if (c.code !== 0) throw new Error(c.stderr);
  const logPath = (await docker(['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
  const through: number[] = [];
  const floor: number[] = [];
  const tails: number[] = [];
  const curled: number[] = [];
  const oneStream: number[] = [];
  writeLog(logPath, 50 * MiB, k8s);
  const size = statSync(logPath).size;
  const socket = (env.DOCKER_HOST ?? '').replace('unix://', '');
  for (let i = 0; i < RUNS; i++) {
    const r = await stream('docker', ['logs', name], env);
    through.push(size / MiB / (r.ms / 1000));
    // The floor: the file read and cut into frames by a trivial demultiplexer.
    const f = await stream('sh', ['-c', `cat ${logPath} | cat`], env);
    floor.push(size / MiB / (f.ms / 1000));
    // The same request as the CLI's (its user agent too), the body counted and dropped.
    const c = await stream('curl', ['-sf', '--unix-socket', socket, '-A', 'Docker-Client/20.10.24 (linux)', '-o', '/dev/null', `http://engine/v1.41/containers/${name}/logs?stdout=1&stderr=1`], env);
    curled.push(size / MiB / (c.ms / 1000));
  }
  const ceiling = await cliCeiling(socket, name, size);
  writeLog(logPath, 50 * MiB, k8s, true);
  for (let i = 0; i < RUNS; i++) oneStream.push(size / MiB / ((await stream('docker', ['logs', name], env)).ms / 1000));
  const oneStreamCeiling = await cliCeiling(socket, name, size);
  writeLog(logPath, 1024 * MiB, k8s);
  for (let i = 0; i < RUNS; i++) tails.push(await timed(() => stream('docker', ['logs', '--tail', '10', name], env)));
  const peak = rss();
  await docker(['rm', '-f', name]);
  const f = await docker(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'while true; do cat /proc/uptime; usleep 200000; done']);
  if (f.code !== 0) throw new Error(f.stderr);
  const follow = await followLatency(env, name, RUNS * 4).finally(() => docker(['rm', '-f', name]));
  return { rss: peak, mbps: stats(through).median, curlMbps: stats(curled).median, oneStreamMbps: stats(oneStream).median, ceilingMbps: ceiling, oneStreamCeilingMbps: oneStreamCeiling, tailMs: stats(tails).median, followMs: stats(follow).median, floorMbps: stats(floor).median };
}

/** Median MB/s of `docker logs` against the engine's captured answers served from memory. */
async function cliCeiling(socket: string, name: string, size: number): Promise<number> {
  const captured = await capture(socket, name);
  const fake = `/tmp/berth-logs-ceiling-${process.pid}.sock`;
  const close = await serveCaptured(fake, captured);
  const runs: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = await stream('docker', ['logs', name], { DOCKER_HOST: `unix://${fake}` });
      if (r.bytes !== captured.logs.length - countHeads(captured.logs) * 8) throw new Error(`ceiling: docker logs printed ${r.bytes} bytes of ${captured.logs.length}`);
      runs.push(size / MiB / (r.ms / 1000));
    }
  } finally {
    await close();
  }
  return stats(runs).median;
}

/** stdcopy frames in a multiplexed body. */
function countHeads(body: Buffer): number {
  let n = 0;
  for (let p = 0; p + 8 <= body.length; p += 8 + body.readUInt32BE(p + 4)) n++;
  return n;
}

function print(engine: string, r: Result, rss?: string): void {
  console.log(`${engine}: docker logs 50 MiB ${r.mbps.toFixed(1)} MB/s (curl ${r.curlMbps.toFixed(1)} MB/s, one stream ${r.oneStreamMbps.toFixed(1)} MB/s; the CLI's ceiling on this engine's bytes ${r.ceilingMbps.toFixed(1)} MB/s, one stream ${r.oneStreamCeilingMbps.toFixed(1)} MB/s; floor cat|cat ${r.floorMbps.toFixed(0)} MB/s); --tail 10 of 1 GiB ${r.tailMs.toFixed(0)} ms; logs -f new line ${r.followMs.toFixed(0)} ms${rss ? `; ${rss}` : ''}`);
}

/** Processes of a suite whose command line names `word`, under its exec root. */
function suitePids(execRoot: string, word: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(execRoot) && cmd.includes(word)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

async function main(): Promise<void> {
  const suite = await Suite.startWithBusybox();
  try {
    const env = { DOCKER_HOST: suite.dockerHost };
    const r = await bench((a) => suite.docker(a, { timeoutMs: 600_000 }), env, () => {
      const gw = suite.state().children['gateway']?.pid ?? 0;
      const shims = [...suitePids(suite.execRoot, 'shim'), ...suitePids(suite.execRoot, 'monitor')];
      return `peak RSS gateway ${(hwm(gw) / MiB).toFixed(0)} MiB, shim/monitor ${(Math.max(0, ...shims.map(hwm)) / MiB).toFixed(0)} MiB`;
    }, K8S);
    print(K8S ? 'berth (conmon, k8s-file)' : 'berth', r, r.rss);
  } finally {
    await suite.stop();
  }
  const ref = await withReferenceEngine(async (docker, e) => {
    const env = { DOCKER_HOST: `unix://${e.base}/docker.sock` };
    await docker(['load', '-i', (await fixtures()).busybox]);
    return bench(docker, env, () => `peak RSS dockerd ${(hwm(e.pid) / MiB).toFixed(0)} MiB`);
  });
  if (ref) print('dockerd', ref, ref.rss);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
