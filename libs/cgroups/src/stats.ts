import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { totalmem } from 'node:os';
import { CGROUP_ROOT, cgroupVersion, onlineCpus, readText } from './host';
import { cgroupDir } from './paths';

/** USER_HZ: /proc/stat and cpuacct.stat count in these ticks on every Linux Docker runs on. */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** The cgroup parts of the Engine API's ContainerStats, with Docker's field names. */
export interface CgroupStats {
  cpu_stats: {
    cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
    system_cpu_usage: number;
    online_cpus: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  blkio_stats: Record<string, BlkioEntry[] | null>;
  pids_stats: { current?: number; limit?: number };
}

const num = (s: string): number => {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
};

function keyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = num(v);
  }
  return out;
}

/** Host CPU time in ns, from the first line of /proc/stat, as Docker's system_cpu_usage. */
export function systemCpuUsageNs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, f) => a + num(f), 0);
  return ticks * NS_PER_TICK;
}

/** "8:0 Read 123" lines (v1 blkio files) into Docker's entries. */
function blkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

function readV1(cgroupsPath: string, root: string): CgroupStats {
  const d = (c: string, f: string) => readText(join(cgroupDir(c, cgroupsPath, root), f));
  const acct = keyValues(d('cpuacct', 'cpuacct.stat'));
  const percpu = d('cpuacct', 'cpuacct.usage_percpu').split(/\s+/).filter(Boolean).map(num);
  const throttle = keyValues(d('cpu', 'cpu.stat'));
  const memStats = keyValues(d('memory', 'memory.stat'));
  const limitText = d('memory', 'memory.limit_in_bytes');
  let limit = num(limitText);
  // An unlimited cgroup reports a huge page-rounded number; Docker shows the host's memory then.
  if (!limitText || limit > totalmem()) limit = totalmem();
  const pidsMax = d('pids', 'pids.max');
  const bytes = blkioV1(d('blkio', 'blkio.throttle.io_service_bytes_recursive') || d('blkio', 'blkio.io_service_bytes_recursive'));
  const serviced = blkioV1(d('blkio', 'blkio.throttle.io_serviced_recursive') || d('blkio', 'blkio.io_serviced_recursive'));
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: num(d('cpuacct', 'cpuacct.usage')),
        percpu_usage: percpu.length ? percpu : undefined,
        usage_in_kernelmode: (acct.system ?? 0) * NS_PER_TICK,
        usage_in_usermode: (acct.user ?? 0) * NS_PER_TICK,
      },
      system_cpu_usage: systemCpuUsageNs(),
      online_cpus: onlineCpus(),
      throttling_data: { periods: throttle.nr_periods ?? 0, throttled_periods: throttle.nr_throttled ?? 0, throttled_time: throttle.throttled_time ?? 0 },
    },
    memory_stats: {
      usage: num(d('memory', 'memory.usage_in_bytes')),
      max_usage: num(d('memory', 'memory.max_usage_in_bytes')),
      stats: memStats,
      failcnt: num(d('memory', 'memory.failcnt')),
      limit,
    },
    blkio_stats: {
      io_service_bytes_recursive: bytes,
      io_serviced_recursive: serviced,
      io_queue_recursive: [],
      io_service_time_recursive: [],
      io_wait_time_recursive: [],
      io_merged_recursive: [],
      io_time_recursive: [],
      sectors_recursive: [],
    },
    pids_stats: { current: num(d('pids', 'pids.current')), ...(pidsMax && pidsMax !== 'max' ? { limit: num(pidsMax) } : {}) },
  };
}

function readV2(cgroupsPath: string, root: string): CgroupStats {
  const dir = cgroupDir('', cgroupsPath, root);
  const f = (n: string) => readText(join(dir, n));
  const cpu = keyValues(f('cpu.stat'));
  const memStats = keyValues(f('memory.stat'));
  const maxText = f('memory.max');
  const limit = !maxText || maxText === 'max' ? totalmem() : Math.min(num(maxText), totalmem());
  const pidsMax = f('pids.max');
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of f('io.stat').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const vals = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, v]) => [k, num(v ?? '')]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    bytes.push({ major, minor, op: 'read', value: vals.rbytes ?? 0 }, { major, minor, op: 'write', value: vals.wbytes ?? 0 });
    ios.push({ major, minor, op: 'read', value: vals.rios ?? 0 }, { major, minor, op: 'write', value: vals.wios ?? 0 });
  }
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
        usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      system_cpu_usage: systemCpuUsageNs(),
      online_cpus: onlineCpus(),
      throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
    },
    memory_stats: { usage: num(f('memory.current')), stats: memStats, limit },
    blkio_stats: {
      io_service_bytes_recursive: bytes, io_serviced_recursive: ios, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    pids_stats: { current: num(f('pids.current')), ...(pidsMax && pidsMax !== 'max' ? { limit: num(pidsMax) } : {}) },
  };
}

/** Reads a live container cgroup's counters; files that are missing read as zero. */
export function readCgroupStats(cgroupsPath: string, root = CGROUP_ROOT): CgroupStats {
  return cgroupVersion(root) === '2' ? readV2(cgroupsPath, root) : readV1(cgroupsPath, root);
}

export interface NetDevStats {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

/** Interface counters of the network namespace `pid` lives in (its /proc/<pid>/net/dev), loopback left out as Docker does. */
export function readNetDev(pid: number): Record<string, NetDevStats> {
  const out: Record<string, NetDevStats> = {};
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(num);
    out[m[1]!] = {
      rx_bytes: f[0] ?? 0, rx_packets: f[1] ?? 0, rx_errors: f[2] ?? 0, rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0, tx_packets: f[9] ?? 0, tx_errors: f[10] ?? 0, tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}
