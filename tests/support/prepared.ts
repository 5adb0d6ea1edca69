import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { eventually, type Suite } from './berth';

/** The conmon monitor makes a created container's runtime container ahead of its start (not the Node shim). */
export const conmonMonitor = process.env.BERTH_TEST_MONITOR !== 'shim';

/** Host pids of the container's conmon (whose command line names the container). */
export function processesOf(id: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(id) && cmd.startsWith('/usr/bin/conmon')) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

export const mountsOf = (id: string) => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(id));

/** Whether the OCI runtime still keeps state for the container (runc's, under the suite's exec root). */
export const runtimeStateOf = (suite: Suite, id: string) => existsSync(join(suite.execRoot, 'runtime', 'runc', id));

/** What a container removed, or a prepared one dropped, must not leave: its conmon, runtime state, mounts. */
export function leftovers(suite: Suite, id: string, opts: { mounts?: boolean } = {}) {
  return { conmon: processesOf(id), runtime: runtimeStateOf(suite, id), mounts: opts.mounts === false ? [] : mountsOf(id) };
}

export const NOTHING_LEFT = { conmon: [], runtime: false, mounts: [] };

/** conmon is up for a created container: its runtime container is made. */
export async function prepared(suite: Suite, id: string): Promise<void> {
  if (!conmonMonitor) return;
  const found = await eventually(async () => processesOf(id).length, (n) => n > 0, 20_000);
  expect(found, 'a conmon for the created container').toBeGreaterThan(0);
  expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', id])).stdout.trim()).toBe('created 0');
}

/** SIGKILL of a service the launcher runs, back once the launcher has started it again and the API answers. */
export async function killService(suite: Suite, name: string): Promise<void> {
  const before = suite.state().children[name]!.pid;
  expect(before).toBeGreaterThan(0);
  process.kill(before, 'SIGKILL');
  await eventually(async () => suite.state().children[name]!, (c) => c.pid !== before && c.pid > 0 && c.status === 'running', 60_000);
  await eventually(async () => (await suite.docker(['ps', '-aq'])).code, (code) => code === 0, 60_000);
}

/**
 * A file of `mib` MiB that no two 4 KiB blocks share (a copy cut short or misplaced shows in its
 * md5), in a new temp dir the caller removes.
 */
export function bigFile(mib: number, prefix: string): { dir: string; path: string; md5: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'big');
  const data = Buffer.alloc(mib << 20);
  for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path, data);
  return { dir, path, md5: createHash('md5').update(data).digest('hex') };
}
