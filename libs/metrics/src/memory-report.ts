import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Where a process asked with SIGUSR2 writes its memory figures: `<dir>/<name>.<pid>.json`. */
export function memoryReportFile(dir: string, name: string, pid = process.pid): string {
  return join(dir, `${name}.${pid}.json`);
}

/** V8's and Node's own view of this process's memory, for tools/bench/memory-bench.ts. */
export function memoryFigures(): Record<string, unknown> {
  const spaces: Record<string, { size: number; used: number }> = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
  const h = getHeapStatistics();
  return {
    pid: process.pid,
    atUnixMs: Date.now(),
    usage: process.memoryUsage(),
    heap: { total: h.total_heap_size, used: h.used_heap_size, limit: h.heap_size_limit, malloced: h.malloced_memory, external: h.external_memory },
    spaces,
    execArgv: process.execArgv,
  };
}

/** The same figures after a full collection: what is live, apart from garbage not yet collected. */
function afterFullGc(): Record<string, unknown> {
  // Only this debug hook asks for a collection; the flag lets a fresh context hand out gc().
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return memoryFigures();
}

/**
 * A debug hook that costs nothing until used: on SIGUSR2 the process writes its memory figures
 * to a file (a signal, not an RPC, so every process answers it alike: services, the launcher, the
 * monitor). SIGUSR1 stays Node's inspector signal.
 */
export function reportMemoryOnSignal(dir: string, name: string): void {
  process.on('SIGUSR2', () => {
    try {
      writeMemoryReport(dir, name);
    } catch {
      // a debug aid: a report that cannot be written is not worth taking the process down
    }
  });
}

/** Writes the figures, then the figures after a full collection, atomically; returns the file. */
export function writeMemoryReport(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = memoryReportFile(dir, name);
  const before = memoryFigures();
  writeFileSync(`${file}.tmp`, JSON.stringify({ ...before, afterFullGc: afterFullGc() }));
  renameSync(`${file}.tmp`, file);
  return file;
}
