/**
 * `docker logs --tail 10` of a 1 GiB log, hop by hop (issue 13): a suite whose services have
 * `BERTH_TRACE` set (libs/logging/src/trace.ts), one container (stopped, or running with
 * `--running`) whose LogPath gets the logs bench's 1 GiB fixture, then --runs rounds of: the
 * docker CLI's whole command, and curl's ping, inspect and logs requests one after the other as
 * the CLI sends them (curl's own time to first byte and total). Prints medians, and each traced
 * step's median start offset from the CLI's launch and median duration. Numbers only, never
 * asserted.
 * `--timeline` also prints each run's steps (start offset + duration).
 * Usage: npx tsx tools/bench/logs-tail.ts [--runs 15] [--running] [--monitor conmon|shim] [--timeline]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { hasFlag, numberOption, stats } from './common';
import { writeLog } from './log-fixture';

const RUNS = numberOption('--runs', 15);
const argv = process.argv.slice(2);
const MONITOR = argv.includes('--monitor') ? argv[argv.indexOf('--monitor') + 1]! : 'conmon';
const RUNNING = hasFlag('--running');
const TIMELINE = hasFlag('--timeline');
const MiB = 1024 * 1024;

interface Line {
  step: string;
  at: number;
  ms: number;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    // Both streams: the fixture has stderr rows too.
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`))));
  });
}

const median = (xs: number[]) => (xs.length ? stats(xs).median : NaN);

async function main(): Promise<void> {
  // A reader that stops early (`| head`) must not end this process before the suite is stopped.
  process.stdout.on('error', () => undefined);
  const dir = mkdtempSync('/tmp/berth-logs-tail-');
  const file = join(dir, 'trace.jsonl');
  const suite = await Suite.start(['--default-monitor', MONITOR], 60_000, { env: { BERTH_TRACE: file } });
  try {
    const load = await suite.docker(['load', '-i', (await fixtures()).busybox]);
    if (load.code !== 0) throw new Error(load.stderr);
    const name = `logs-tail-${process.pid}`;
    const args = RUNNING ? ['run', '-d', '--name', name, 'busybox', 'sleep', '3600'] : ['run', '--name', name, 'busybox', 'true'];
    const c = await suite.docker(args);
    if (c.code !== 0) throw new Error(c.stderr);
    const logPath = (await suite.docker(['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
    writeLog(logPath, 1024 * MiB, MONITOR === 'conmon');
    const env = { DOCKER_HOST: suite.dockerHost };
    const socket = suite.dockerHost.replace('unix://', '');
    const curl = (path: string) => exec('curl', ['-sf', '--unix-socket', socket, '-A', 'Docker-Client/20.10.24 (linux)', '-o', '/dev/null', '-w', '%{time_starttransfer} %{time_total}\n', `http://engine${path}`], env);
    const cli: number[] = [];
    const curls: Record<string, number[]> = { ping: [], inspect: [], logs: [] };
    const steps = new Map<string, [number[], number[]]>();
    await exec('docker', ['logs', '--tail', '10', name], env); // warm-up
    for (let i = 0; i < RUNS; i++) {
      const offset = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      const t0 = Date.now();
      const h = process.hrtime.bigint();
      const out = await exec('docker', ['logs', '--tail', '10', name], env);
      cli.push(Number(process.hrtime.bigint() - h) / 1e6);
      if (out.split('\n').length !== 11) throw new Error(`--tail 10 printed ${out.split('\n').length - 1} lines`);
      await new Promise((r) => setTimeout(r, 100));
      const lines = readFileSync(file, 'utf8').slice(offset).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
      if (TIMELINE) console.log(`run ${i}: ${cli[cli.length - 1]!.toFixed(1)} ms; ${lines.map((l) => `${l.step} ${l.at - t0}+${l.ms.toFixed(1)}`).join('; ')}`);
      for (const l of lines) {
        const s = steps.get(l.step) ?? [[], []];
        s[0].push(l.at - t0);
        s[1].push(l.ms);
        steps.set(l.step, s);
      }
      for (const [k, path] of [['ping', '/_ping'], ['inspect', `/v1.41/containers/${name}/json`], ['logs', `/v1.41/containers/${name}/logs?stdout=1&stderr=1&tail=10`]] as const) {
        const [, total] = (await curl(path)).trim().split(' ').map(Number);
        curls[k]!.push(total! * 1000);
      }
    }
    console.log(`berth (${MONITOR}, ${RUNNING ? 'running' : 'stopped'} container, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}): docker logs --tail 10 of 1 GiB, median of ${RUNS}: ${median(cli).toFixed(1)} ms (min ${stats(cli).min.toFixed(1)})`);
    console.log(`curl, one request each, medians: ping ${median(curls.ping!).toFixed(1)} ms, inspect ${median(curls.inspect!).toFixed(1)} ms, logs?tail=10 ${median(curls.logs!).toFixed(1)} ms`);
    console.log('steps during the CLI command (median start offset from its launch, median duration, ms):');
    const rows = [...steps].map(([k, [at, ms]]) => ({ k, at: median(at), ms: median(ms), n: at.length }));
    rows.sort((a, b) => a.at - b.at);
    for (const r of rows) console.log(`  ${r.at.toFixed(1).padStart(7)} ${r.ms.toFixed(2).padStart(8)}  ${r.k}${r.n !== RUNS ? ` (${r.n} of ${RUNS})` : ''}`);
    await suite.docker(['rm', '-f', name]);
  } finally {
    await suite.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
