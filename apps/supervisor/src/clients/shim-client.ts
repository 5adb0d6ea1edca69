import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { unavailable } from '@berth/errors';
import { connect, socketAnswers } from '@berth/grpc';
import { shimV1 } from '@berth/proto';

/**
 * Where the shim artifact is: configured, the installed current one (deploy/), the current one of
 * the builds kept beside each other (dist/monitors, tools/build/publish-monitor.mjs), or the bare
 * build beside this app's artifact (which the next build overwrites).
 */
export function findShim(configured: string | undefined): string {
  const candidates = configured
    ? [configured]
    : [resolve(__dirname, '../../shim/current/main.js'), resolve(__dirname, '../../monitors/shim/current/main.js'), resolve(__dirname, '../shim/main.js')];
  for (const c of candidates) {
    // Resolve `current` now: a running shim keeps its version even when a newer one is installed.
    if (existsSync(c)) return realpathSync(c);
  }
  throw unavailable(`shim not found (looked in ${candidates.join(', ')}); set "shim-path"`);
}


/**
 * Starts a container's shim in its own session, so it outlives the supervisor and is outside
 * its process group; returns once the shim's socket answers.
 */
export async function spawnShim(shimPath: string, id: string, bundle: string, socket: string, timeoutMs = 10_000): Promise<number> {
  const log = openSync(join(bundle, 'shim.log'), 'a');
  const child = spawn(process.execPath, ['--max-old-space-size=64', shimPath, '--id', id, '--bundle', bundle], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: bundle,
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (!(await socketAnswers(socket))) {
    if (child.exitCode !== null) throw unavailable(`shim for ${id} exited at start (code ${child.exitCode}); see ${join(bundle, 'shim.log')}`);
    if (Date.now() > deadline) throw unavailable(`shim for ${id} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child.pid ?? 0;
}

export function shimClient(socket: string): shimV1.ShimClient {
  return connect(shimV1.ShimClient, `unix://${socket}`);
}
