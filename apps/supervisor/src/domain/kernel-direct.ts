import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRecord } from './model';

/**
 * A container reached through the kernel, for when its monitor does not answer (gone, or hung):
 * its init's /proc entry and its cgroup are the truth about what still runs.
 */

/** The container's cgroup (v1 or v2 path) as its init process sees it, when `pid` is that init. */
function cgroupOf(pid: number, id: string): string | undefined {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    // A recycled pid is some other process: the container's cgroup path names its id.
    const line = lines.find((l) => l.startsWith('0::') && l.includes(id)) ?? lines.find((l) => l.includes(id));
    return line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  } catch {
    return undefined;
  }
}

export function containerAlive(rec: ContainerRecord): boolean {
  if (rec.state.Pid <= 0) return false;
  try {
    // A zombie has exited: its parent (the runtime) has not reaped it yet.
    if (/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${rec.state.Pid}/stat`, 'utf8'))) return false;
  } catch {
    return false;
  }
  return cgroupOf(rec.state.Pid, rec.id) !== undefined;
}

/** Every process of the container's cgroup (its init alone when the cgroup cannot be read). */
export function cgroupPids(rec: ContainerRecord): number[] {
  const pids = new Set<number>();
  const cg = containerAlive(rec) ? cgroupOf(rec.state.Pid, rec.id) : undefined;
  if (!cg) return [];
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory']) {
    try {
      for (const p of readFileSync(join(base, cg, 'cgroup.procs'), 'utf8').split('\n')) if (Number(p) > 0) pids.add(Number(p));
      break;
    } catch {
      // not this hierarchy
    }
  }
  return pids.size ? [...pids] : [rec.state.Pid];
}

/** Signals the container's init, or with `all` every process of its cgroup. */
export function signalDirect(rec: ContainerRecord, signal: number, all: boolean): void {
  const pids = all ? cgroupPids(rec) : [rec.state.Pid];
  for (const p of new Set([rec.state.Pid, ...pids])) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Thaws a paused container's cgroup: under cgroup v1's freezer even SIGKILL waits for the thaw,
 * so a stop of a paused container whose monitor cannot resume it would wait forever.
 */
export function thawDirect(rec: ContainerRecord): void {
  const cg = containerAlive(rec) ? cgroupOf(rec.state.Pid, rec.id) : undefined;
  if (!cg) return;
  for (const [file, value] of [[join('/sys/fs/cgroup', cg, 'cgroup.freeze'), '0'], [join('/sys/fs/cgroup/freezer', cg, 'freezer.state'), 'THAWED']] as const) {
    try {
      writeFileSync(file, value);
      return;
    } catch {
      // not this hierarchy
    }
  }
}
