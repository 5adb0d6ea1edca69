import { readFileSync } from 'node:fs';

/**
 * Why crun cannot run here, or undefined where it can. crun refuses a hybrid cgroup host whose v2
 * hierarchy has controllers ("cgroups in hybrid mode not supported, drop all controllers from
 * cgroupv2"), as this machine kind has (hugetlb); tests and kits skip their crun cases then,
 * saying why, and run them everywhere else.
 */
export function crunUnsupportedHere(): string | undefined {
  try {
    const v2 = readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim();
    if (v2) return `crun cannot run on this host: hybrid cgroups with v2 controllers (${v2})`;
  } catch {
    // not hybrid: pure v1 or pure v2
  }
  return undefined;
}
