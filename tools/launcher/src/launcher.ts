import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { type BerthConfig, loadConfig, parseFlags, readDaemonJson, type ServiceName, socketPath } from '@berth/config';
import { startUsernsRemap } from './userns-remap';
import { messageOf } from '@berth/errors';
import { reportMemoryOnSignal } from '@berth/metrics';
import { writeFileAtomic } from '@berth/store';
import { Child } from './child';
import { External } from './external';
import { OnDemand } from './on-demand';
import { controlSocket, type LauncherState, resolvedConfigFile, writeState } from './state';
import { waitForSocket } from './wait';
import { probeHealthy } from './health-probe';
import { serviceEnv, serviceNodeFlags } from './node-flags';

/** Start order: the gateway last, so `DOCKER_HOST` works once it is printed. */
const ORDER: ServiceName[] = ['images', 'snapshotter', 'netproxy', 'supervisor', 'builder', 'gateway'];
const READY_TIMEOUT_MS = 30_000;

const say = (msg: string) => process.stderr.write(`[berth] ${msg}\n`);

function appsDir(): string {
  return process.env.BERTH_APPS_DIR ?? resolve(__dirname, '../../apps');
}

/**
 * An app's entry: `<apps>/<app>/current/main.js` in a deploy layout (deploy/install-app.sh), which
 * node resolves when the process starts, so a restart runs what `current` names then; otherwise
 * the build output `<apps>/<app>/main.js`.
 */
function appMain(name: string): string {
  const installed = join(appsDir(), name, 'current', 'main.js');
  return existsSync(installed) ? installed : join(appsDir(), name, 'main.js');
}

/**
 * A build of the shim may come from nx's cache, which skips the step that keeps each build beside
 * the others (tools/build/publish-monitor.mjs): publish it now, so the containers of this suite
 * run from a folder no later build touches. Not needed (and skipped) in a deploy layout.
 */
function publishShim(): void {
  const built = join(appsDir(), 'shim');
  const script = resolve(__dirname, '../../../tools/build/publish-monitor.mjs');
  if (!existsSync(join(built, 'main.js')) || !existsSync(script)) return;
  try {
    execFileSync(process.execPath, [script, built], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    say(`could not publish the shim build beside the earlier ones (${messageOf(err)}); containers run from ${built}`);
  }
}

/**
 * Writes the configuration every service reads: the user's file plus the flags, with roots
 * made explicit, so services and the admin command agree on one document.
 */
function writeResolvedConfig(argv: string[], config: BerthConfig): string {
  const { configFile, values } = parseFlags(argv);
  const doc: Record<string, unknown> = { ...(configFile ? readDaemonJson(configFile) : {}), ...values };
  doc['data-root'] = config.dataRoot;
  doc['exec-root'] = config.execRoot;
  doc.hosts = config.hosts;
  doc.redis = config.redis;
  if (doc['log-format'] === undefined && process.stderr.isTTY) doc['log-format'] = 'console';
  const file = resolvedConfigFile(config.execRoot);
  writeFileAtomic(file, JSON.stringify(doc, null, 2));
  return file;
}

async function alreadyRunning(sock: string): Promise<boolean> {
  try {
    await waitForSocket(sock, 0);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let config: BerthConfig;
  try {
    config = loadConfig(argv).config;
  } catch (err) {
    say(messageOf(err));
    process.exit(2);
  }
  reportMemoryOnSignal(join(config.execRoot, 'memory'), 'launcher');
  mkdirSync(join(config.execRoot, 'launcher'), { recursive: true, mode: 0o711 });
  mkdirSync(config.dataRoot, { recursive: true, mode: 0o711 });
  try {
    startUsernsRemap(config, say);
  } catch (err) {
    say(`failed to start daemon: ${messageOf(err)}`);
    process.exit(1);
  }
  const ctl = controlSocket(config.execRoot);
  if (await alreadyRunning(ctl)) {
    say(`a Berth suite is already running with exec root ${config.execRoot}`);
    process.exit(1);
  }
  const configFile = writeResolvedConfig(argv, config);
  if (!config.shimPath) publishShim();
  const children = new Map<string, Child | External | OnDemand>();
  const state: LauncherState = { pid: process.pid, startedAtUnixMs: Date.now(), children: {} };
  const save = () => {
    for (const [n, c] of children) state.children[n] = c.state;
    writeState(config.execRoot, state);
  };

  if (config.privateRedis) {
    const sock = socketPath(config.redis);
    const dir = join(config.dataRoot, 'redis');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    children.set(
      'redis',
      new Child(
        {
          name: 'redis',
          command: process.env.BERTH_REDIS_SERVER ?? 'redis-server',
          args: ['--unixsocket', sock, '--unixsocketperm', '600', '--port', '0', '--dir', dir, '--appendonly', 'yes', '--save', '', '--loglevel', 'warning'],
          ready: () => waitForSocket(sock, READY_TIMEOUT_MS, 'redis'),
        },
        save,
        say,
      ),
    );
  }
  for (const name of ORDER) {
    if (config.externalServices.includes(name)) {
      children.set(name, new External(name, config.services[name], say));
      continue;
    }
    const main = appMain(name);
    if (!existsSync(main)) {
      say(`${main} is missing: build the apps first (npx nx run-many -t build)`);
      process.exit(1);
    }
    const address = config.services[name];
    const child = new Child(
      {
        name,
        command: process.execPath,
        args: [...serviceNodeFlags(), main, '--config', configFile],
        env: serviceEnv(),
        ready: async () => {
          await waitForSocket(socketPath(address), READY_TIMEOUT_MS, name);
          if (!(await probeHealthy(address, 5_000))) throw new Error(`${name} is not healthy`);
        },
      },
      save,
      say,
    );
    children.set(name, config.onDemandServices.includes(name) ? new OnDemand(name, socketPath(address), child, save, say) : child);
  }

  let stopping = false;
  let control: Server | undefined;
  const stopAll = async (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`${why}: stopping services (containers keep running)`);
    control?.close();
    for (const name of [...children.keys()].reverse()) await children.get(name)!.stop();
    save();
    rmSync(ctl, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll('interrupted'));
  process.on('SIGTERM', () => void stopAll('terminated'));

  try {
    for (const [, child] of children) await child.start();
  } catch (err) {
    say(`start-up failed: ${messageOf(err)}`);
    await stopAll('start-up failed');
    return;
  }
  save();

  rmSync(ctl, { force: true });
  control = createServer((conn) => {
    let buf = '';
    conn.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      void handle(line).then((res) => conn.end(`${JSON.stringify(res)}\n`));
    });
    conn.on('error', () => undefined);
  });
  const handle = async (line: string): Promise<unknown> => {
    try {
      const req = JSON.parse(line) as { cmd?: string; service?: string };
      if (req.cmd === 'status') {
        await Promise.all([...children.values()].map((c) => (c instanceof External ? c.refresh() : undefined)));
        save();
        return { ok: true, state };
      }
      if (req.cmd === 'restart') {
        const child = children.get(req.service ?? '');
        if (!child) return { ok: false, error: `no such service: ${req.service}` };
        await child.restart();
        save();
        return { ok: true, pid: child.state.pid, status: child.state.status };
      }
      return { ok: false, error: `unknown command: ${req.cmd}` };
    } catch (err) {
      return { ok: false, error: messageOf(err) };
    }
  };
  mkdirSync(dirname(ctl), { recursive: true });
  control.listen(ctl);

  const host = config.hosts.find((h) => h.startsWith('unix://')) ?? config.hosts[0];
  say(`all services are up (data root ${config.dataRoot}, exec root ${config.execRoot}, default bridge ${config.bridge})`);
  process.stdout.write(`DOCKER_HOST=${host}\n`);
}

void main();
