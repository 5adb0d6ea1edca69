/**
 * Where a one-stream `docker logs` spends its CPU, per process (issue 13): the gateway, the
 * container's monitor and the client (curl of the CLI's request, or the CLI), from
 * /proc/<pid>/stat before and after each read of a 50 MiB k8s-file or json-file log.
 * With --tail: instead, each request of `docker logs --tail 10` of a 1 GiB log timed from this
 * process on one connection (ping, inspect, the logs call), beside the CLI's whole command and
 * its start alone (`docker --version`, no request).
 * --running reads the log of a running container (a sleep), whose monitor the gateway looks up
 * during the inspect.
 * Usage: npx tsx tools/bench/logs-hops.ts [--runs 5] [--two-streams] [--tail] [--running]
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { hasFlag, numberOption, stats } from './common';
import { CLI_AGENT } from './captured-engine';
import { writeLog } from './log-fixture';
import { Suite } from '../../tests/support/berth';

const RUNS = numberOption('--runs', 5);
const MiB = 1024 * 1024;
const K8S = (process.env.BERTH_TEST_MONITOR ?? 'conmon') === 'conmon';

/** user+system CPU ms of a pid. */
function cpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function pidsOf(execRoot: string, word: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const c = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      return c.includes(execRoot) && c.includes(word);
    } catch {
      return false;
    }
  }).map(Number);
}

function timedRun(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd}: exit ${code}`));
      const u = process.resourceUsage();
      void u;
      resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, cpuMs: 0 });
    });
  });
}

/** ms of one GET over the unix socket from this process (keep-alive, as the CLI's client). */
function timedGet(agent: Agent, socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const req = request({ socketPath, path, agent, headers: { 'User-Agent': CLI_AGENT } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t) / 1e6) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function tailHops(socket: string, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const agent = new Agent({ keepAlive: true });
  const paths: [string, string][] = [
    ['/_ping', '/_ping'],
    ['inspect', `/v1.41/containers/${name}/json`],
    ['logs?tail=10', `/v1.41/containers/${name}/logs?stdout=1&stderr=1&tail=10`],
  ];
  const byPath = new Map<string, number[]>(paths.map(([l]) => [l, []]));
  const cli: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // The CLI's three requests in its order, on one connection, then the CLI itself.
    for (const [label, path] of paths) byPath.get(label)!.push(await timedGet(agent, socket, path));
    cli.push((await timedRun('docker', ['logs', '--tail', '10', name], env)).ms);
    start.push((await timedRun('docker', ['--version'], env)).ms);
  }
  agent.destroy();
  const f = (ms: number[]) => `${stats(ms).median.toFixed(1)} ms`;
  console.log(`--tail 10 of 1 GiB, medians of ${RUNS}: docker logs ${f(cli)}; its start alone (docker --version) ${f(start)}; requests from one process: ${paths.map(([l]) => `${l} ${f(byPath.get(l)!)}`).join(', ')}`);
}

async function main(): Promise<void> {
  const suite = await Suite.startWithBusybox();
  try {
    const name = `hops-${process.pid}`;
    await suite.docker(hasFlag('--running') ? ['run', '-d', '--name', name, 'busybox', 'sleep', '3600'] : ['run', '--name', name, 'busybox', 'true']);
    const logPath = (await suite.docker(['inspect', '-f', '{{.LogPath}}', name])).stdout.trim();
    writeLog(logPath, 50 * MiB, K8S, !hasFlag('--two-streams'));
    const socket = suite.dockerHost.replace('unix://', '');
    const env = { DOCKER_HOST: suite.dockerHost };
    if (hasFlag('--tail')) {
      writeLog(logPath, 1024 * MiB, K8S);
      await tailHops(socket, name, env);
      await suite.docker(['rm', '-f', name]);
      return;
    }
    const gw = suite.state().children['gateway']?.pid ?? 0;
    const mons = [...pidsOf(suite.execRoot, 'monitor/main'), ...pidsOf(suite.execRoot, 'shim/main')];
    for (const client of ['curl', 'docker']) {
      const rows: { ms: number; gw: number; mon: number }[] = [];
      for (let i = 0; i < RUNS; i++) {
        const g0 = cpu(gw);
        const m0 = mons.reduce((s, p) => s + cpu(p), 0);
        const args = client === 'curl' ? ['-sf', '--unix-socket', socket, '-A', CLI_AGENT, '-o', '/dev/null', `http://e/v1.41/containers/${name}/logs?stdout=1&stderr=1`] : ['logs', name];
        const r = await timedRun(client, args, env);
        rows.push({ ms: r.ms, gw: cpu(gw) - g0, mon: mons.reduce((s, p) => s + cpu(p), 0) - m0 });
      }
      const med = (k: 'ms' | 'gw' | 'mon') => stats(rows.map((r) => r[k])).median;
      console.log(`${client}: ${med('ms').toFixed(0)} ms (${(50 / (med('ms') / 1000)).toFixed(1)} MB/s); CPU gateway ${med('gw')} ms, monitor ${med('mon')} ms (medians of ${RUNS}; monitors ${mons.join(',')})`);
    }
    await suite.docker(['rm', '-f', name]);
  } finally {
    await suite.stop();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
