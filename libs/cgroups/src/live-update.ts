import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT, cgroupVersion, readText } from './host';
import { cgroupDir } from './paths';

/**
 * Limits to change on a running container's cgroup. Absent fields are left as they are;
 * -1 means "no limit" for memory, swap, quota and pids, as in the OCI spec.
 */
export interface LiveResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit?: number };
  blockIO?: { weight?: number };
}

const write = (path: string, value: string | number) => writeFileSync(path, String(value));

function applyV1(cgroupsPath: string, r: LiveResources, root: string): void {
  const f = (controller: string, file: string) => join(cgroupDir(controller, cgroupsPath, root), file);
  const m = r.memory;
  if (m) {
    const memsw = f('memory', 'memory.memsw.limit_in_bytes');
    const hasSwap = existsSync(memsw);
    const limit = m.limit === undefined ? undefined : m.limit <= 0 ? -1 : m.limit;
    const swap = m.swap === undefined || !hasSwap ? undefined : m.swap <= 0 ? -1 : m.swap;
    // The kernel wants limit <= memsw at every moment, so the order of the two writes matters.
    const currentSwap = Number(readText(memsw) || -1);
    const raising = limit !== undefined && (limit === -1 || (currentSwap !== -1 && limit > currentSwap));
    if (swap !== undefined && raising) write(memsw, swap);
    if (limit !== undefined) write(f('memory', 'memory.limit_in_bytes'), limit);
    if (swap !== undefined && !raising) write(memsw, swap);
    if (m.reservation !== undefined) write(f('memory', 'memory.soft_limit_in_bytes'), m.reservation <= 0 ? -1 : m.reservation);
  }
  const c = r.cpu;
  if (c) {
    if (c.period !== undefined && c.period > 0) write(f('cpu', 'cpu.cfs_period_us'), c.period);
    if (c.quota !== undefined) write(f('cpu', 'cpu.cfs_quota_us'), c.quota <= 0 ? -1 : c.quota);
    if (c.shares !== undefined && c.shares > 0) write(f('cpu', 'cpu.shares'), c.shares);
    if (c.cpus) write(f('cpuset', 'cpuset.cpus'), c.cpus);
    if (c.mems) write(f('cpuset', 'cpuset.mems'), c.mems);
  }
  if (r.pids?.limit !== undefined) write(f('pids', 'pids.max'), r.pids.limit > 0 ? r.pids.limit : 'max');
  if (r.blockIO?.weight) {
    const plain = f('blkio', 'blkio.weight');
    write(existsSync(plain) ? plain : f('blkio', 'blkio.bfq.weight'), r.blockIO.weight);
  }
}

/** cgroup v2's cpu.weight from v1 shares (2..262144 -> 1..10000), the conversion runc uses. */
export function sharesToWeight(shares: number): number {
  return shares <= 0 ? 0 : Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

function applyV2(cgroupsPath: string, r: LiveResources, root: string): void {
  const f = (file: string) => join(cgroupDir('', cgroupsPath, root), file);
  const m = r.memory;
  if (m) {
    const limit = m.limit === undefined ? undefined : m.limit <= 0 ? 'max' : String(m.limit);
    if (limit !== undefined) write(f('memory.max'), limit);
    if (m.swap !== undefined && existsSync(f('memory.swap.max'))) {
      const swapOnly = m.swap <= 0 || limit === 'max' ? 'max' : String(Math.max(0, m.swap - Number(limit ?? readText(f('memory.max')))));
      write(f('memory.swap.max'), swapOnly);
    }
    if (m.reservation !== undefined) write(f('memory.low'), m.reservation <= 0 ? 0 : m.reservation);
  }
  const c = r.cpu;
  if (c) {
    if (c.quota !== undefined || c.period !== undefined) {
      const [curQuota = 'max', curPeriod = '100000'] = readText(f('cpu.max')).split(/\s+/);
      const quota = c.quota === undefined ? curQuota : c.quota <= 0 ? 'max' : String(c.quota);
      const period = c.period && c.period > 0 ? String(c.period) : curPeriod;
      write(f('cpu.max'), `${quota} ${period}`);
    }
    if (c.shares !== undefined && c.shares > 0) write(f('cpu.weight'), sharesToWeight(c.shares));
    if (c.cpus) write(f('cpuset.cpus'), c.cpus);
    if (c.mems) write(f('cpuset.mems'), c.mems);
  }
  if (r.pids?.limit !== undefined) write(f('pids.max'), r.pids.limit > 0 ? r.pids.limit : 'max');
  if (r.blockIO?.weight) {
    const weight = Math.floor(1 + ((r.blockIO.weight - 10) * 9999) / 990);
    write(existsSync(f('io.weight')) ? f('io.weight') : f('io.bfq.weight'), existsSync(f('io.weight')) ? `default ${weight}` : r.blockIO.weight);
  }
}

/** Writes new limits into a live cgroup (what `runc update` does, without needing the runtime's state). */
export function applyResources(cgroupsPath: string, r: LiveResources, root = CGROUP_ROOT): void {
  if (cgroupVersion(root) === '2') applyV2(cgroupsPath, r, root);
  else applyV1(cgroupsPath, r, root);
}
