import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export type CgroupVersion = '1' | '2';
export type CgroupDriver = 'cgroupfs' | 'systemd';

/** A unified hierarchy has cgroup.controllers at its root; v1 and hybrid hosts do not. */
export function cgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  return existsSync(join(root, 'cgroup.controllers')) ? '2' : '1';
}

/** Whether the host booted with systemd (sd_booted(3): /run/systemd/system is a directory). */
export function systemdRunning(): boolean {
  try {
    return statSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

/**
 * dockerd's default: systemd on a v2 host that runs systemd, cgroupfs otherwise; an explicit
 * `native.cgroupdriver` exec-opt wins.
 */
export function cgroupDriver(explicit?: string): CgroupDriver {
  if (explicit === 'systemd' || explicit === 'cgroupfs') return explicit;
  return cgroupVersion() === '2' && systemdRunning() ? 'systemd' : 'cgroupfs';
}

/** What the kernel's cgroups can limit here, as dockerd's sysinfo reports it. */
export interface CgroupSupport {
  memoryLimit: boolean;
  swapLimit: boolean;
  memoryReservation: boolean;
  memorySwappiness: boolean;
  kernelMemory: boolean;
  kernelMemoryTcp: boolean;
  oomKillDisable: boolean;
  cpuCfs: boolean;
  cpuShares: boolean;
  cpuRealtime: boolean;
  cpuset: boolean;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioThrottle: boolean;
  cgroupNamespaces: boolean;
}

let cachedSupport: CgroupSupport | undefined;

export function cgroupSupport(root = CGROUP_ROOT): CgroupSupport {
  if (cachedSupport && root === CGROUP_ROOT) return cachedSupport;
  const has = (...p: string[]) => existsSync(join(root, ...p));
  const ns = existsSync('/proc/self/ns/cgroup');
  let s: CgroupSupport;
  if (cgroupVersion(root) === '2') {
    const controllers = readText(join(root, 'cgroup.controllers')).split(/\s+/);
    const on = (c: string) => controllers.includes(c);
    s = {
      memoryLimit: on('memory'),
      swapLimit: on('memory') && (has('memory.swap.max') || anyChildHas(root, 'memory.swap.max')),
      memoryReservation: on('memory'),
      memorySwappiness: false,
      kernelMemory: false,
      kernelMemoryTcp: false,
      oomKillDisable: false,
      cpuCfs: on('cpu'),
      cpuShares: on('cpu'),
      cpuRealtime: false,
      cpuset: on('cpuset'),
      pidsLimit: on('pids'),
      blkioWeight: on('io'),
      blkioWeightDevice: on('io'),
      blkioThrottle: on('io'),
      cgroupNamespaces: ns,
    };
  } else {
    s = {
      memoryLimit: has('memory', 'memory.limit_in_bytes'),
      swapLimit: has('memory', 'memory.memsw.limit_in_bytes'),
      memoryReservation: has('memory', 'memory.soft_limit_in_bytes'),
      memorySwappiness: has('memory', 'memory.swappiness'),
      kernelMemory: has('memory', 'memory.kmem.limit_in_bytes'),
      kernelMemoryTcp: has('memory', 'memory.kmem.tcp.limit_in_bytes'),
      oomKillDisable: has('memory', 'memory.oom_control'),
      cpuCfs: has('cpu', 'cpu.cfs_quota_us') && has('cpu', 'cpu.cfs_period_us'),
      cpuShares: has('cpu', 'cpu.shares'),
      cpuRealtime: has('cpu', 'cpu.rt_period_us') && has('cpu', 'cpu.rt_runtime_us'),
      cpuset: has('cpuset', 'cpuset.cpus'),
      pidsLimit: has('pids', 'pids.max') || anyChildHas(join(root, 'pids'), 'pids.max'),
      blkioWeight: has('blkio', 'blkio.weight') || has('blkio', 'blkio.bfq.weight') || anyChildHas(join(root, 'blkio'), 'blkio.bfq.weight'),
      blkioWeightDevice: has('blkio', 'blkio.weight_device') || has('blkio', 'blkio.bfq.weight_device') || anyChildHas(join(root, 'blkio'), 'blkio.bfq.weight_device'),
      blkioThrottle: has('blkio', 'blkio.throttle.read_bps_device'),
      cgroupNamespaces: ns,
    };
  }
  if (root === CGROUP_ROOT) cachedSupport = s;
  return s;
}

/** Some files exist only below the root cgroup (pids.max, memory.swap.max); a child shows them. */
function anyChildHas(dir: string, file: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && existsSync(join(dir, e.name, file)));
  } catch {
    return false;
  }
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The CPUs and memory nodes containers may use, as "0-3,5" lists. */
export function hostCpuset(root = CGROUP_ROOT): { cpus: string; mems: string } {
  const v2 = cgroupVersion(root) === '2';
  const cpusText = readText(v2 ? join(root, 'cpuset.cpus.effective') : join(root, 'cpuset', 'cpuset.cpus'));
  const memsText = readText(v2 ? join(root, 'cpuset.mems.effective') : join(root, 'cpuset', 'cpuset.mems'));
  return {
    cpus: cpusText || readText('/sys/devices/system/cpu/online') || `0-${cpus().length - 1}`,
    mems: memsText || readText('/sys/devices/system/node/online') || '0',
  };
}

/** "0-2,5" -> {0,1,2,5}; undefined when the text is not a list. */
export function parseCpuList(text: string): Set<number> | undefined {
  const out = new Set<number>();
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

/** The number of CPUs this process may run on (what dockerd's sysinfo.NumCPU counts). */
export function onlineCpus(): number {
  const online = parseCpuList(readText('/sys/devices/system/cpu/online'));
  return online && online.size > 0 ? online.size : cpus().length;
}
