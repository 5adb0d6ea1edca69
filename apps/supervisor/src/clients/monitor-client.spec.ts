import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { monitorPaths, spawnMonitor } from './monitor-client';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An exec root and a stand-in monitor that runs `body`. */
function fixture(body: string | ((execRoot: string) => string)): { execRoot: string; monitor: string } {
  const execRoot = mkdtempSync(join(tmpdir(), 'spawn-monitor-'));
  dirs.push(execRoot);
  const monitor = join(execRoot, 'fake-monitor.js');
  writeFileSync(monitor, typeof body === 'string' ? body : body(execRoot));
  return { execRoot, monitor };
}

function listenLater(socket: string, ms: number): void {
  setTimeout(() => {
    const s = createServer((c) => c.destroy());
    servers.push(s);
    s.listen(socket);
  }, ms);
}

describe('spawnMonitor', () => {
  it('takes a monitor that exits 0 as started once the exec root’s socket answers (another one holds it)', async () => {
    const { execRoot, monitor } = fixture('process.exit(0);');
    // The holder answers only after the one started here has gone.
    listenLater(monitorPaths(execRoot).socket, 300);
    await expect(spawnMonitor(monitor, execRoot, 5_000)).resolves.toBe(0);
  });

  it('fails at once when the monitor exits with an error', async () => {
    const { execRoot, monitor } = fixture('process.exit(1);');
    await expect(spawnMonitor(monitor, execRoot, 5_000)).rejects.toThrow(/monitor exited at start \(code 1\)/);
  });

  it('fails at its deadline when a monitor exited 0 but nothing answers', async () => {
    const { execRoot, monitor } = fixture('process.exit(0);');
    await expect(spawnMonitor(monitor, execRoot, 500)).rejects.toThrow(/did not come up within 500 ms/);
  });

  it('returns the pid of a monitor that serves', async () => {
    const { execRoot, monitor } = fixture(
      (root) => `require('node:net').createServer((c) => c.destroy()).listen(${JSON.stringify(monitorPaths(root).socket)}); setTimeout(() => process.exit(0), 2000);`,
    );
    const pid = await spawnMonitor(monitor, execRoot, 5_000);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
  });
});
