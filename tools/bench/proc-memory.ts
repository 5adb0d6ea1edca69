import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** One process's memory from /proc/<pid>/smaps_rollup and status, in bytes (zeros once it is gone). */
export interface ProcMemory {
  pss: number;
  pssAnon: number;
  pssFile: number;
  rss: number;
  /** Peak RSS since start or since resetPeakRss. */
  hwm: number;
}

export function procMemory(pid: number): ProcMemory {
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  try {
    const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { pss: kb(r, 'Pss'), pssAnon: kb(r, 'Pss_Anon'), pssFile: kb(r, 'Pss_File'), rss: kb(r, 'Rss'), hwm: kb(s, 'VmHWM') };
  } catch {
    return { pss: 0, pssAnon: 0, pssFile: 0, rss: 0, hwm: 0 };
  }
}

export const pss = (pid: number): number => procMemory(pid).pss;

/** Resets the kernel's peak-RSS mark (VmHWM) of a process, so a later read shows the peak of one task. */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // gone, or not ours to reset
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids whose command line passes `test`. */
export function pidsWhere(test: (cmd: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = cmdline(Number(d));
    if (cmd.length && test(cmd)) out.push(Number(d));
  }
  return out;
}
