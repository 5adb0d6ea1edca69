// Runs each contract's kit against every implementation Berth ships, each started as its own
// process from its built artifact (dist/apps/<app>/main.js), with a private data root, exec root
// and Redis, killed with SIGKILL and started again where the kit checks durability.
// `npm test` runs this; it ends with one `N passed, N failed` line over all of them.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runKit } from './kit';
import { KITS } from './kits';
import { waitHealthy } from './run';

const ROOT = resolve(__dirname, '../..');

interface Implementation {
  /** What the lines call it, e.g. `snapshotter (native)`. */
  label: string;
  service: string;
  app: string;
  /** daemon.json keys that pick this implementation. */
  config: Record<string, unknown>;
}

export const IMPLEMENTATIONS: Implementation[] = [
  { label: 'snapshotter (overlay2)', service: 'snapshotter', app: 'snapshotter', config: { 'storage-driver': 'overlay2' } },
  { label: 'snapshotter (native)', service: 'snapshotter', app: 'snapshotter', config: { 'storage-driver': 'native' } },
];

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

async function stopProc(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = once(p, 'exit');
  p.kill(signal);
  await gone;
}

async function runOne(impl: Implementation): Promise<{ passed: number; failed: number }> {
  const base = mkdtempSync('/tmp/bk-');
  const dataRoot = join(base, 'data');
  const execRoot = join(base, 'run');
  mkdirSync(execRoot, { recursive: true });
  const redisSock = join(execRoot, 'redis.sock');
  const redis = spawn('redis-server', ['--unixsocket', redisSock, '--port', '0', '--save', '', '--appendonly', 'no', '--dir', execRoot], { stdio: 'ignore' });
  const configFile = join(base, 'daemon.json');
  writeFileSync(configFile, JSON.stringify({ 'data-root': dataRoot, 'exec-root': execRoot, redis: `unix://${redisSock}`, 'log-level': 'warn', ...impl.config }));
  const address = `unix://${join(execRoot, `${impl.service}.sock`)}`;
  let proc: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    proc = spawn(process.execPath, [join(ROOT, 'dist/apps', impl.app, 'main.js'), '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitHealthy(impl.service, address);
  };
  try {
    await start();
    const restart = async () => {
      await stopProc(proc, 'SIGKILL');
      await start();
    };
    const kit = KITS[impl.service]!();
    const r = await runKit(kit, { address, restart, scratch: join(base, 'scratch') }, (line) => process.stdout.write(`${line.replace(`${impl.service}:`, `${impl.label}:`)}\n`));
    if (r.failed > 0) process.stdout.write(`--- ${impl.label} log:\n${log.slice(-4000)}\n`);
    return r;
  } catch (err) {
    process.stdout.write(`not ok - ${impl.label}: could not run the kit: ${err instanceof Error ? err.message : String(err)}\n${log.slice(-4000)}\n`);
    return { passed: 0, failed: 1 };
  } finally {
    await stopProc(proc);
    await stopProc(redis);
    for (const m of mountsUnder(base)) spawn('umount', ['-l', m]);
    await new Promise((r) => setTimeout(r, 100));
    if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
    else process.stdout.write(`left ${base}: still mounted under it\n`);
  }
}

async function main(): Promise<number> {
  let passed = 0;
  let failed = 0;
  for (const impl of IMPLEMENTATIONS) {
    const r = await runOne(impl);
    passed += r.passed;
    failed += r.failed;
  }
  process.stdout.write(`conformance kits: ${IMPLEMENTATIONS.length} implementations, ${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

void main().then((code) => process.exit(code));
