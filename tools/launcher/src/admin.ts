import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { loadConfig, type ServiceName, SERVICE_NAMES } from '@berth/config';
import { messageOf } from '@berth/errors';
import { serviceInfo } from '@berth/clients';
import { probeHealthy } from './health-probe';
import { IDLE_STATUS } from './on-demand';
import { controlSocket, type LauncherState, readState, resolvedConfigFile } from './state';

const USAGE = `usage: npm run berth -- [--exec-root DIR | --config FILE] <command>

commands:
  status              each service's pid, version, uptime, health, restarts and contracts,
                      then how many containers each monitor name and version serves
  restart <service>   restart one service alone (${SERVICE_NAMES.join(', ')}, redis)`;

function request(execRoot: string, body: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(controlSocket(execRoot));
    let buf = '';
    s.on('connect', () => s.write(`${JSON.stringify(body)}\n`));
    s.on('data', (d) => (buf += d.toString()));
    s.on('end', () => {
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch (err) {
        reject(err);
      }
    });
    s.on('error', (err) => reject(new Error(`the launcher for ${execRoot} is not running (${err.message})`)));
  });
}

function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}\n`);
}

/** The supervisor's `monitors` detail ({"shim 0.1.0": 3}) as rows, by name then version. */
export function monitorRows(detail: string): string[][] {
  let counts: Record<string, number> = {};
  try {
    counts = JSON.parse(detail) as Record<string, number>;
  } catch {
    return [['?', detail, '?']];
  }
  return Object.entries(counts)
    .map(([key, n]) => {
      const at = key.indexOf(' ');
      return at < 0 ? [key, '-', String(n)] : [key.slice(0, at), key.slice(at + 1), String(n)];
    })
    .sort((a, b) => a[0]!.localeCompare(b[0]!) || a[1]!.localeCompare(b[1]!, undefined, { numeric: true }));
}

async function main(): Promise<number> {
  let config;
  let rest: string[];
  try {
    const argv = process.argv.slice(2);
    ({ config, rest } = loadConfig(argv));
    // The launcher of that exec root wrote the document its services read (addresses of
    // swapped-in services included): with only --exec-root given, read the same one.
    const resolved = resolvedConfigFile(config.execRoot);
    if (!argv.includes('--config') && existsSync(resolved)) ({ config } = loadConfig(['--config', resolved]));
  } catch (err) {
    process.stderr.write(`${messageOf(err)}\n${USAGE}\n`);
    return 2;
  }
  const [cmd, arg] = rest;
  if (cmd === 'status') {
    let state: LauncherState | undefined;
    try {
      state = (await request(config.execRoot, { cmd: 'status' })).state as LauncherState;
    } catch {
      state = readState(config.execRoot);
    }
    let monitors: string | undefined;
    const rows = [['SERVICE', 'PID', 'VERSION', 'UPTIME', 'HEALTH', 'RESTARTS', 'CONTRACTS']];
    for (const name of ['redis', ...SERVICE_NAMES] as const) {
      const child = state?.children[name];
      if (name === 'redis') {
        if (child) rows.push([name, String(child.pid || '-'), '-', child.pid ? uptime(Date.now() - child.startedAtUnixMs) : '-', child.status, String(child.restarts), '-']);
        continue;
      }
      if (child?.status === IDLE_STATUS) {
        // Asking an idle on-demand service who it is would start it.
        rows.push([name, '-', '-', '-', 'idle, starts on first use', String(child.restarts), '-']);
        continue;
      }
      const address = config.services[name as ServiceName];
      // Generous deadlines: on a loaded host a late answer is still an answer, and a row of
      // dashes would read as a dead service.
      const [info, healthy] = await Promise.all([
        serviceInfo(name as ServiceName, address, { deadlineMs: 5_000 }).catch(() => undefined),
        probeHealthy(address, 5_000),
      ]);
      if (name === 'supervisor') monitors = info?.details.monitors;
      rows.push([
        name,
        String(info?.pid ?? child?.pid ?? '-'),
        info?.version ?? '-',
        info ? uptime(Date.now() - info.startedAtUnixMs) : '-',
        healthy ? 'healthy' : 'unhealthy',
        child?.status === 'external' ? 'external' : String(child?.restarts ?? '-'),
        info?.contracts.length ? info.contracts.join(',') : '-',
      ]);
    }
    printTable(rows);
    if (monitors !== undefined) {
      process.stdout.write('\n');
      printTable([['MONITOR', 'VERSION', 'CONTAINERS'], ...monitorRows(monitors)]);
    }
    return rows.slice(1).every((r) => r[4] === 'healthy' || r[4] === 'running' || r[4]!.startsWith(IDLE_STATUS)) ? 0 : 1;
  }
  if (cmd === 'restart' && arg) {
    try {
      const res = await request(config.execRoot, { cmd: 'restart', service: arg });
      if (!res.ok) {
        process.stderr.write(`${String(res.error)}\n`);
        return 1;
      }
      process.stdout.write(res.status === IDLE_STATUS ? `${arg} is idle: it starts on first use\n` : `${arg} restarted (pid ${String(res.pid)})\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`${messageOf(err)}\n`);
      return 1;
    }
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

void main().then((code) => process.exit(code));
