import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { unavailable } from '@berth/errors';
import { connect, socketAnswers, unary } from '@berth/grpc';
import { monitorV1 } from '@berth/proto';

/** Where the monitor artifact is: beside this app's artifact, or the installed current one. */
export function findMonitor(configured: string | undefined): string {
  const candidates = configured ? [configured] : [resolve(__dirname, '../monitor/main.js'), resolve(__dirname, '../../monitor/current/main.js')];
  for (const c of candidates) {
    if (existsSync(c)) return realpathSync(c);
  }
  throw unavailable(`monitor not found (looked in ${candidates.join(', ')}); set "monitor-path"`);
}

/** The monitor's socket and state dir under an exec root. */
export function monitorPaths(execRoot: string): { socket: string; state: string; log: string } {
  return { socket: join(execRoot, 'monitor.sock'), state: join(execRoot, 'monitor'), log: join(execRoot, 'monitor', 'monitor.log') };
}

/**
 * Starts the monitor in its own session, so it outlives the supervisor; returns once its socket
 * answers. It serves every container it adopted before on its own. The monitor started here may
 * find another one already holding the exec root (started by a supervisor that died before it
 * answered): it then exits 0 and the other one's answer is as good. Returns the pid of the one
 * started here, or 0 when it left the exec root to the other.
 */
export async function spawnMonitor(monitorPath: string, execRoot: string, timeoutMs = 15_000): Promise<number> {
  const p = monitorPaths(execRoot);
  mkdirSync(p.state, { recursive: true, mode: 0o700 });
  const log = openSync(p.log, 'a');
  const child = spawn(process.execPath, ['--max-old-space-size=128', '--max-semi-space-size=1', monitorPath, '--state', p.state, '--socket', p.socket], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: p.state,
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (!(await socketAnswers(p.socket))) {
    if (child.exitCode !== null && child.exitCode !== 0) throw unavailable(`monitor exited at start (code ${child.exitCode}); see ${p.log}`);
    if (child.signalCode !== null) throw unavailable(`monitor was killed at start (${child.signalCode}); see ${p.log}`);
    if (Date.now() > deadline) throw unavailable(`monitor did not come up within ${timeoutMs} ms; see ${p.log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child.exitCode === 0 ? 0 : (child.pid ?? 0);
}

export function monitorClient(socket: string): monitorV1.MonitorClient {
  return connect(monitorV1.MonitorClient, `unix://${socket}`);
}

/** Hands a container to the monitor; resolves once the container's socket is served (and its prepare, if asked, has begun). */
export async function adopt(client: monitorV1.MonitorClient, id: string, bundle: string, prepare = false): Promise<void> {
  await unary('monitor', client.adopt.bind(client), { id, bundle, prepare }, { deadlineMs: 15_000 });
}
