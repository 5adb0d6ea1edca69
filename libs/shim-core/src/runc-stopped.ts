import { existsSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of runc's `state.json` (libcontainer's State) that say what a delete has to undo. */
interface RuncState {
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, string>;
  intel_rdt_path?: string;
  config?: { cgroups?: { systemd?: boolean }; Hooks?: { poststop?: unknown[] | null } | null };
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined when the process is gone or a zombie. */
function liveStartTime(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * What `runc delete` does for a stopped container, without starting runc: remove its cgroups and
 * its state directory. A runc process costs tens of milliseconds on a loaded host and sits on
 * the exit and `--rm` paths. Returns false, having changed nothing the runtime still needs, for
 * anything but the plain case (a live init, processes left in a cgroup, systemd cgroups, poststop
 * hooks, Intel RDT, or a state that is not runc's): the caller then runs `runc delete --force`,
 * which kills what is left. True when nothing is left (also when there was no state at all).
 */
export function deleteStoppedRuncState(runtimeRoot: string, id: string): boolean {
  const dir = join(runtimeRoot, id);
  let text: string;
  try {
    text = readFileSync(join(dir, 'state.json'), 'utf8');
  } catch (err) {
    // No state dir at all: nothing to delete. A dir without runc's state.json is another runtime's.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir);
  }
  let s: RuncState;
  try {
    s = JSON.parse(text) as RuncState;
  } catch {
    return false;
  }
  if (!s.cgroup_paths || s.config?.cgroups?.systemd || s.intel_rdt_path || s.config?.Hooks?.poststop?.length) return false;
  const pid = s.init_process_pid ?? 0;
  // The same pid with the same start time is the container's init, still there.
  if (pid > 0 && liveStartTime(pid) === s.init_process_start) return false;
  // Leaves first, so a parent is never tried before its child; cpu and cpuacct may be one hierarchy.
  const paths = [...new Set(Object.values(s.cgroup_paths))].sort((a, b) => b.length - a.length);
  for (const p of paths) {
    try {
      rmdirSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EBUSY: processes (or child cgroups) are left; runc's delete kills them and retries.
      if (code !== 'ENOENT') return false;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return true;
}
