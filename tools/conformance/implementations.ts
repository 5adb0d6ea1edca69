// Runs each contract's kit against every implementation Berth ships, each started as its own
// process from its built artifact (dist/apps/<app>/main.js) with private roots and Redis, killed
// with SIGKILL and started again where the kit checks durability. `npm test` runs this; every
// kit ends with its own count line, and the last line counts all of them.
//
// Three ways to stand an implementation up:
// - alone: the service by itself (the snapshotter needs no peer);
// - in a suite: the launcher runs every service, the kit talks to one of them, and a restart is
//   a SIGKILL of that service's pid, which the launcher starts again (as systemd would);
// - a monitor: a suite creates a container (bundle, rootfs, netns), the launcher is stopped so
//   nothing but the kit talks to the container, and the monitor under test is started on that
//   bundle from its artifact (and killed and started again there).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Suite } from '../../tests/support/berth';
import { crunUnsupportedHere } from '../../tests/support/crun-host';
import { type KitContext, type KitResult, runKit } from './kit';
import { KITS } from './kits';
import { ROOT, ServiceProcess, startRedis, stopProcess, waitHealthy } from './service-process';
import { SHIM_KIT_COMMAND, SHIM_RESTART_CASE } from './shim.kit';

/** How a monitor implementation is started on a bundle the supervisor wrote: the hook for each monitor Berth ships. */
export interface MonitorStarter {
  /** Starts a monitor serving berth.shim.v1 for container `id` on `socket`; resolves with its process once it answers. */
  start(id: string, bundle: string, socket: string): Promise<ChildProcess>;
}

type Harness =
  | { kind: 'alone'; app: string; config: Record<string, unknown> }
  | { kind: 'suite'; config: Record<string, unknown> }
  | { kind: 'monitor'; config: Record<string, unknown>; monitor: MonitorStarter };

interface Implementation {
  /** What the lines call it, e.g. `snapshotter (native)`. */
  label: string;
  /** The kit (contract) it is held to. */
  service: string;
  harness: Harness;
  /** Why it cannot run on this host, when it cannot: then it is reported as skipped, never passed. */
  unsupported?: () => string | undefined;
  /** Cases it is known to fail (recorded bugs), by case name, with the reason. */
  knownGaps?: Record<string, string>;
}

/** The Node shim (apps/shim), as the supervisor starts it, but never exiting while the kit is idle between calls. */
const NODE_SHIM: MonitorStarter = {
  async start(id, bundle, socket) {
    const proc = spawn(process.execPath, [join(ROOT, 'dist/apps/shim/main.js'), '--id', id, '--bundle', bundle], {
      cwd: bundle,
      stdio: 'ignore',
      env: { ...process.env, BERTH_SHIM_IDLE_MS: String(30 * 60_000) },
    });
    await waitHealthy('shim', `unix://${socket}`, 30_000, () => (proc.exitCode !== null ? `code ${proc.exitCode}; see ${bundle}/shim.log` : undefined));
    return proc;
  },
};

/**
 * The conmon monitor (apps/monitor): one process for many containers, started on the exec root's
 * monitor state, which re-serves every container it adopted (the supervisor adopted this one at
 * create). The monitor the supervisor started goes first, by the socket on its command line.
 */
const CONMON_MONITOR: MonitorStarter = {
  async start(_id, bundle, socket) {
    const execRoot = dirname(dirname(bundle));
    const control = join(execRoot, 'monitor.sock');
    for (const pid of pidsWith(control)) process.kill(pid, 'SIGKILL');
    const state = join(execRoot, 'monitor');
    const proc = spawn(process.execPath, [join(ROOT, 'dist/apps/monitor/main.js'), '--state', state, '--socket', control], { cwd: state, stdio: 'ignore' });
    await waitHealthy('shim', `unix://${socket}`, 30_000, () => (proc.exitCode !== null ? `code ${proc.exitCode}; see ${state}/monitor.log` : undefined));
    return proc;
  },
};

const OFFLINE = { 'registry-hosts': ['docker.io=http://127.0.0.1:9'] };

export const IMPLEMENTATIONS: Implementation[] = [
  { label: 'snapshotter (overlay2)', service: 'snapshotter', harness: { kind: 'alone', app: 'snapshotter', config: { 'storage-driver': 'overlay2' } } },
  { label: 'snapshotter (native)', service: 'snapshotter', harness: { kind: 'alone', app: 'snapshotter', config: { 'storage-driver': 'native' } } },
  // Consecutive implementations with one config share one suite (a suite start is the
  // dearest step); a monitor case ends its suite, since it stops the suite's services.
  { label: 'images', service: 'images', harness: { kind: 'suite', config: OFFLINE } },
  { label: 'netproxy', service: 'netproxy', harness: { kind: 'suite', config: OFFLINE } },
  { label: 'supervisor (runc)', service: 'supervisor', harness: { kind: 'suite', config: OFFLINE } },
  { label: 'builder', service: 'builder', harness: { kind: 'suite', config: OFFLINE } },
  {
    label: 'shim (node)',
    service: 'shim',
    // Created for the Node shim, as the supervisor makes its containers (json-file log, nothing prepared).
    harness: { kind: 'monitor', config: { ...OFFLINE, 'default-monitor': 'shim' }, monitor: NODE_SHIM },
    knownGaps: {
      [SHIM_RESTART_CASE]:
        'the Node shim started again after a SIGKILL does not adopt the running container (State says created, pid 0): it holds the stdio and the exit status in its own process; the conmon monitor (issue 13) is the design that survives this',
    },
  },
  { label: 'shim (conmon)', service: 'shim', harness: { kind: 'monitor', config: { ...OFFLINE, 'default-monitor': 'conmon' }, monitor: CONMON_MONITOR } },
  {
    label: 'supervisor (crun)',
    service: 'supervisor',
    harness: { kind: 'suite', config: { ...OFFLINE, 'default-runtime': 'crun' } },
    unsupported: crunUnsupportedHere,
  },
];

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

interface Stood {
  ctx: KitContext;
  /** What to show when a case failed. */
  log(): string;
  teardown(): Promise<void>;
}

async function standAlone(impl: Implementation, h: Extract<Harness, { kind: 'alone' }>): Promise<Stood> {
  const base = mkdtempSync('/tmp/bk-');
  const execRoot = join(base, 'run');
  mkdirSync(execRoot, { recursive: true });
  const redis = startRedis(execRoot);
  const configFile = join(base, 'daemon.json');
  writeFileSync(configFile, JSON.stringify({ 'data-root': join(base, 'data'), 'exec-root': execRoot, redis: redis.url, 'log-level': 'warn', ...h.config }));
  const svc = new ServiceProcess(impl.service, h.app, configFile, `unix://${join(execRoot, `${impl.service}.sock`)}`);
  const teardown = async () => {
    await svc.stop();
    await stopProcess(redis.proc);
    unmountUnder(base);
    if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
    else process.stdout.write(`left ${base}: still mounted under it\n`);
  };
  try {
    await svc.start();
  } catch (err) {
    await teardown();
    throw err;
  }
  return { ctx: { address: svc.address, restart: () => svc.restart(), scratch: join(base, 'scratch') }, log: () => svc.log(), teardown };
}

/** A suite with the busybox fixture, shared by consecutive implementations of one config. */
interface SharedSuite {
  key: string;
  suite: Suite;
  configDir: string;
  /** Set once a monitor case stopped its services: the next implementation needs a new one. */
  spent: boolean;
}

async function startSuite(config: Record<string, unknown>): Promise<SharedSuite> {
  const configDir = mkdtempSync('/tmp/bk-cfg-');
  writeFileSync(join(configDir, 'daemon.json'), JSON.stringify({ 'log-level': 'warn', ...config }));
  const suite = await Suite.startWithBusybox(['--config', join(configDir, 'daemon.json')]);
  return { key: JSON.stringify(config), suite, configDir, spent: false };
}

async function stopSuite(s: SharedSuite): Promise<void> {
  if (!s.spent) await s.suite.removeAllContainers({ volumes: true }).catch(() => undefined);
  unmountUnder(s.suite.base);
  await s.suite.stop();
  rmSync(s.configDir, { recursive: true, force: true });
}

function inSuite(impl: Implementation, shared: SharedSuite): Stood {
  const { suite } = shared;
  const address = `unix://${join(suite.execRoot, `${impl.service}.sock`)}`;
  const restart = async () => {
    const before = suite.state().children[impl.service]?.pid ?? 0;
    if (before <= 0) throw new Error(`the launcher reports no pid for ${impl.service}`);
    process.kill(before, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = suite.state().children[impl.service];
      if (now && now.pid > 0 && now.pid !== before && now.status === 'running') break;
      if (Date.now() > deadline) throw new Error(`the launcher did not start ${impl.service} again within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitHealthy(impl.service, address, 60_000);
  };
  const scratch = join(suite.base, 'scratch', impl.service);
  return {
    ctx: { address, restart, scratch },
    log: () => suite.logs.slice(-4000),
    async teardown() {
      unmountUnder(scratch);
    },
  };
}

/** Pids of processes whose command line has `needle` (the supervisor's own shim for a bundle). */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(needle)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function runtimeOf(bundle: string): { path: string; root: string } {
  const shim = JSON.parse(readFileSync(join(bundle, 'shim.json'), 'utf8')) as { runtime: { path: string }; runtimeRoot: string };
  return { path: shim.runtime.path, root: shim.runtimeRoot };
}

/** Waits (bounded) for a prepare sent at create to have made the runtime container, so none is still on its way when the services go. */
async function preparedSettled(id: string, bundle: string): Promise<void> {
  const rt = runtimeOf(bundle);
  for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    try {
      if ((JSON.parse(execFileSync(rt.path, ['--root', rt.root, 'state', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { status: string }).status === 'created') return;
    } catch {
      // not made (yet)
    }
  }
}


async function onMonitor(shared: SharedSuite, h: Extract<Harness, { kind: 'monitor' }>): Promise<Stood> {
  const { suite } = shared;
  let monitor: ChildProcess | undefined;
  const teardown = async () => {
    await stopProcess(monitor, 'SIGKILL');
  };
  const created = await suite.docker(['create', '--name', 'shim-kit', 'busybox', ...SHIM_KIT_COMMAND]);
  if (created.code !== 0) throw new Error(`docker create for the shim kit: ${created.stderr}`);
  const id = created.stdout.trim();
  const bundle = join(suite.execRoot, 'bundles', id);
  const socket = (JSON.parse(readFileSync(join(bundle, 'shim.json'), 'utf8')) as { socket: string }).socket;
  // Only the kit may talk to the container: the services go, and so does the monitor the
  // supervisor started at create (ours, by pid); the container's kernel objects stay.
  shared.spent = true;
  await preparedSettled(id, bundle);
  await stopProcess(suite.proc);
  for (const pid of pidsWith(bundle)) process.kill(pid, 'SIGKILL');
  monitor = await h.monitor.start(id, bundle, socket);
  const restart = async () => {
    await stopProcess(monitor, 'SIGKILL');
    monitor = await h.monitor.start(id, bundle, socket);
  };
  return { ctx: { address: `unix://${socket}`, restart, scratch: join(suite.base, 'scratch', 'shim') }, log: () => readFileSync(join(bundle, 'shim.log'), 'utf8').slice(-4000), teardown };
}

let shared: SharedSuite | undefined;

/** The suite for this config: the current one when it fits, else a new one (after stopping the old). */
async function suiteFor(config: Record<string, unknown>): Promise<SharedSuite> {
  if (shared && shared.key === JSON.stringify(config) && !shared.spent) return shared;
  if (shared) await stopSuite(shared);
  shared = undefined;
  shared = await startSuite(config);
  return shared;
}

async function runOne(impl: Implementation): Promise<KitResult> {
  const why = impl.unsupported?.();
  if (why) {
    process.stdout.write(`skip - ${impl.label}: ${why}\n${impl.label} conformance: 0 passed, 0 failed, 1 skipped\n`);
    return { passed: 0, failed: 0, skipped: 1 };
  }
  let stood: Stood | undefined;
  const t0 = Date.now();
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  try {
    const h = impl.harness;
    stood = h.kind === 'alone' ? await standAlone(impl, h) : h.kind === 'suite' ? inSuite(impl, await suiteFor(h.config)) : await onMonitor(await suiteFor(h.config), h);
    process.stdout.write(`# ${impl.label}: up after ${secs()}\n`);
    const kit = KITS[impl.service]!();
    const r = await runKit(kit, { ...stood.ctx, knownGaps: impl.knownGaps }, (line) => process.stdout.write(`${line.replace(`${impl.service}:`, `${impl.label}:`).replace(`${impl.service} conformance:`, `${impl.label} conformance:`)}\n`));
    if (r.failed > 0) process.stdout.write(`--- ${impl.label} log:\n${stood.log()}\n`);
    return r;
  } catch (err) {
    process.stdout.write(`not ok - ${impl.label}: could not run the kit: ${err instanceof Error ? err.message : String(err)}\n${stood?.log() ?? ''}\n`);
    return { passed: 0, failed: 1, skipped: 0 };
  } finally {
    const t1 = Date.now();
    await stood?.teardown().catch((err: unknown) => process.stdout.write(`${impl.label}: teardown: ${String(err)}\n`));
    process.stdout.write(`# ${impl.label}: torn down in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${secs()} in all\n`);
  }
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const chosen = only.length ? IMPLEMENTATIONS.filter((i) => only.includes(i.service) || only.includes(i.label)) : IMPLEMENTATIONS;
  const total: KitResult = { passed: 0, failed: 0, skipped: 0 };
  for (const impl of chosen) {
    const r = await runOne(impl);
    total.passed += r.passed;
    total.failed += r.failed;
    total.skipped += r.skipped;
  }
  if (shared) await stopSuite(shared).catch((err: unknown) => process.stdout.write(`suite teardown: ${String(err)}\n`));
  process.stdout.write(`conformance kits: ${chosen.length} implementations, ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
  return total.failed === 0 ? 0 : 1;
}

// A stray promise of one case must not end the run of every other kit.
process.on('unhandledRejection', (err) => process.stdout.write(`# unhandled rejection: ${err instanceof Error ? err.message : String(err)}\n`));
if (require.main === module) void main().then((code) => process.exit(code));
