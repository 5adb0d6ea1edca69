import { statSync } from 'node:fs';
import { type CgroupSupport, cgroupSupport, cgroupVersion, hostCpuset, type LiveResources, onlineCpus, parseCpuList } from '@berth/cgroups';
import { invalidArgument } from '@berth/errors';
import { DEFAULT_SHM_BYTES, type DeviceRule, type LinuxDevice, type Resources, type SpecInput, type ThrottleDevice, type WeightDevice } from '@berth/oci-spec';
import type { HostConfig } from './model';

/** dockerd's floor for memory limits and reservations (linuxMinMemory). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** The Resources half of HostConfig (the body of POST /containers/{id}/update, too). */
export interface ResourceFields {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  KernelMemory?: number;
  KernelMemoryTCP?: number;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  BlkioWeightDevice?: { Path: string; Weight: number }[] | null;
  BlkioDeviceReadBps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceWriteBps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceReadIOps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceWriteIOps?: { Path: string; Rate: number }[] | null;
  Devices?: { PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }[] | null;
  DeviceCgroupRules?: string[] | null;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  CgroupParent?: string;
}

const NUMERIC: (keyof ResourceFields)[] = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'KernelMemoryTCP', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpuShares',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'BlkioWeight',
];

/** The JSON types Go would refuse to unmarshal, with its words. */
export function checkResourceTypes(r: Record<string, unknown>): void {
  for (const k of NUMERIC) {
    const v = r[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v))) {
      throw invalidArgument(`json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type int64`);
    }
  }
  for (const k of ['MemorySwappiness', 'PidsLimit'] as const) {
    const v = r[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v))) {
      throw invalidArgument(`json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type int64`);
    }
  }
  for (const k of ['CpusetCpus', 'CpusetMems', 'CgroupParent'] as const) {
    const v = r[k];
    if (v !== undefined && v !== null && typeof v !== 'string') throw invalidArgument(`json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type string`);
  }
  if (r.OomKillDisable !== undefined && r.OomKillDisable !== null && typeof r.OomKillDisable !== 'boolean') {
    throw invalidArgument(`json: cannot unmarshal ${typeof r.OomKillDisable} into Go struct field Resources.OomKillDisable of type bool`);
  }
}

/**
 * dockerd's verifyPlatformContainerResources: refuses impossible values with its messages,
 * drops what the kernel cannot do with its warnings. Edits `r` the way dockerd does.
 */
export function verifyResources(r: ResourceFields, update: boolean, sys: CgroupSupport = cgroupSupport()): string[] {
  const w: string[] = [];
  const mem = r.Memory ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY_BYTES) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (mem > 0 && !sys.memoryLimit) {
    w.push('Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    r.Memory = 0;
    r.MemorySwap = -1;
  }
  if ((r.Memory ?? 0) > 0 && r.MemorySwap !== -1 && !sys.swapLimit) {
    w.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    r.MemorySwap = -1;
  }
  const swap = r.MemorySwap ?? 0;
  if ((r.Memory ?? 0) > 0 && swap > 0 && swap < (r.Memory ?? 0)) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if ((r.Memory ?? 0) === 0 && swap > 0 && !update) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.MemorySwappiness === -1) r.MemorySwappiness = null;
  if (r.MemorySwappiness !== undefined && r.MemorySwappiness !== null) {
    if (!sys.memorySwappiness) {
      w.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
      r.MemorySwappiness = null;
    } else if (r.MemorySwappiness < 0 || r.MemorySwappiness > 100) {
      throw invalidArgument(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
    }
  }
  const resv = r.MemoryReservation ?? 0;
  if (resv > 0 && !sys.memoryReservation) {
    w.push('Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.');
    r.MemoryReservation = 0;
  }
  if (resv > 0 && resv < MIN_MEMORY_BYTES) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if ((r.Memory ?? 0) > 0 && resv > 0 && (r.Memory ?? 0) < resv) throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  if ((r.KernelMemory ?? 0) > 0) {
    if (r.KernelMemory! < MIN_MEMORY_BYTES) throw invalidArgument('Minimum kernel memory limit allowed is 6MB');
    // Kernels since 5.4 deprecate kmem limits and recent ones ignore them; dockerd now only warns.
    w.push('Specifying a kernel memory limit is deprecated and will be removed in a future release.');
  }
  if (r.OomKillDisable && !sys.oomKillDisable) {
    w.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    r.OomKillDisable = null;
  }
  if (r.OomKillDisable && (r.Memory ?? 0) === 0) {
    w.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  if (r.PidsLimit !== undefined && r.PidsLimit !== null && r.PidsLimit > 0 && !sys.pidsLimit) {
    w.push('Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.');
    r.PidsLimit = null;
  }

  const nano = r.NanoCpus ?? 0;
  if (nano > 0 && (r.CpuPeriod ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (r.CpuQuota ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano > 0 && !sys.cpuCfs) throw invalidArgument('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  const ncpu = onlineCpus();
  if (nano < 0 || nano > ncpu * 1e9) throw invalidArgument(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  if ((r.CpuShares ?? 0) > 0 && !sys.cpuShares) {
    w.push('Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
    r.CpuShares = 0;
  }
  if (((r.CpuPeriod ?? 0) !== 0 || (r.CpuQuota ?? 0) !== 0) && !sys.cpuCfs) {
    w.push('Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.');
    r.CpuPeriod = 0;
    r.CpuQuota = 0;
  }
  const period = r.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) throw invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if ((r.CpuQuota ?? 0) > 0 && r.CpuQuota! < 1000) throw invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if ((r.CpuRealtimePeriod ?? 0) > 0 && !sys.cpuRealtime) {
    w.push('Your kernel does not support cgroup cpu real-time period');
    r.CpuRealtimePeriod = 0;
  }
  if ((r.CpuRealtimeRuntime ?? 0) > 0 && !sys.cpuRealtime) {
    w.push('Your kernel does not support cgroup cpu real-time runtime');
    r.CpuRealtimeRuntime = 0;
  }
  if ((r.CpuRealtimePeriod ?? 0) > 0 && (r.CpuRealtimeRuntime ?? 0) > (r.CpuRealtimePeriod ?? 0)) {
    throw invalidArgument('cpu real-time runtime cannot be higher than cpu real-time period');
  }

  if ((r.CpusetCpus || r.CpusetMems) && !sys.cpuset) {
    w.push('Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.');
    r.CpusetCpus = '';
    r.CpusetMems = '';
  }
  const host = hostCpuset();
  checkCpuset(r.CpusetCpus ?? '', host.cpus, 'cpus', 'CPUs');
  checkCpuset(r.CpusetMems ?? '', host.mems, 'mems', 'memory nodes');

  if ((r.BlkioWeight ?? 0) > 0 && !sys.blkioWeight) {
    w.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    r.BlkioWeight = 0;
  }
  if ((r.BlkioWeight ?? 0) > 0 && (r.BlkioWeight! < 10 || r.BlkioWeight! > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (r.BlkioWeightDevice?.length && !sys.blkioWeightDevice) {
    w.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    r.BlkioWeightDevice = [];
  }
  return w;
}

function checkCpuset(value: string, available: string, kind: 'cpus' | 'mems', words: string): void {
  if (!value) return;
  const want = parseCpuList(value);
  if (!want) throw invalidArgument(`Invalid value ${value} for cpuset ${kind}: invalid format: ${value}`);
  const have = parseCpuList(available) ?? new Set<number>();
  for (const n of want) if (!have.has(n)) throw invalidArgument(`Requested ${words} are not available - requested ${value}, available: ${available}`);
}

/** The rest of verifyPlatformContainerSettings that concerns resources, and adaptContainerSettings' defaults. */
export function adaptHostConfig(hc: HostConfig): string[] {
  checkResourceTypes(hc);
  const r = hc as HostConfig & ResourceFields;
  const warnings = verifyResources(r, false);
  const shm = typeof hc.ShmSize === 'number' ? hc.ShmSize : 0;
  if (shm < 0) throw invalidArgument('SHM size can not be less than 0');
  if (shm === 0) hc.ShmSize = DEFAULT_SHM_BYTES;
  const oom = typeof hc.OomScoreAdj === 'number' ? hc.OomScoreAdj : 0;
  if (oom < -1000 || oom > 1000) throw invalidArgument(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  const ns = typeof hc.CgroupnsMode === 'string' ? hc.CgroupnsMode : '';
  if (ns !== '' && ns !== 'host' && ns !== 'private') throw invalidArgument(`invalid cgroup namespace mode: ${ns}`);
  // dockerd 20.10's default: the host's namespace on v1, a private one on v2.
  if (ns === '') hc.CgroupnsMode = cgroupVersion() === '2' ? 'private' : 'host';
  if (hc.CgroupnsMode === 'private' && !cgroupSupport().cgroupNamespaces) {
    warnings.push('Your kernel does not support cgroup namespaces.  Cgroup namespace setting discarded.');
  }
  // By default a container may swap as much again as its memory limit.
  if ((r.Memory ?? 0) > 0 && (r.MemorySwap ?? 0) === 0) r.MemorySwap = r.Memory! * 2;
  for (const rule of r.DeviceCgroupRules ?? []) parseDeviceRule(rule);
  return warnings;
}

/** Major and minor of a device node on the host. */
function deviceNumbers(path: string): { type: 'c' | 'b'; major: number; minor: number } {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    throw invalidArgument(`error gathering device information while adding custom device "${path}": no such file or directory`);
  }
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) throw invalidArgument(`error gathering device information while adding custom device "${path}": not a device node`);
  const dev = st.rdev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { type, major, minor };
}

/** A `--device-cgroup-rule` ("c 1:3 rwm", "b *:* m", "a"). */
export function parseDeviceRule(rule: string): DeviceRule {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule.trim());
  if (rule.trim() === 'a') return { allow: true, type: 'a', access: 'rwm' };
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`);
  const r: DeviceRule = { allow: true, type: m[1] as 'a' | 'c' | 'b', access: m[4]! };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  return r;
}

const RLIMITS = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as'];

/** What the resource fields of HostConfig become in the OCI spec. */
export function specResources(hc: HostConfig): Pick<SpecInput, 'resources' | 'devices' | 'deviceRules' | 'rlimits' | 'oomScoreAdj' | 'cgroupNamespace' | 'cgroupParent'> {
  const r = hc as HostConfig & ResourceFields;
  const resources: Omit<Resources, 'devices'> = {};
  const memory: NonNullable<Resources['memory']> = {};
  if ((r.Memory ?? 0) > 0) memory.limit = r.Memory;
  if ((r.Memory ?? 0) > 0 && r.MemorySwap !== undefined && r.MemorySwap !== 0) memory.swap = r.MemorySwap;
  if ((r.MemoryReservation ?? 0) > 0) memory.reservation = r.MemoryReservation;
  if (typeof r.MemorySwappiness === 'number' && r.MemorySwappiness >= 0) memory.swappiness = r.MemorySwappiness;
  if ((r.KernelMemoryTCP ?? 0) > 0) memory.kernelTCP = r.KernelMemoryTCP;
  if (r.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) resources.memory = memory;
  const cpu: NonNullable<Resources['cpu']> = {};
  if ((r.CpuPeriod ?? 0) > 0) cpu.period = r.CpuPeriod;
  if ((r.CpuQuota ?? 0) !== 0) cpu.quota = r.CpuQuota;
  if ((r.CpuRealtimePeriod ?? 0) > 0) cpu.realtimePeriod = r.CpuRealtimePeriod;
  if ((r.CpuRealtimeRuntime ?? 0) > 0) cpu.realtimeRuntime = r.CpuRealtimeRuntime;
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  if (Object.keys(cpu).length) resources.cpu = cpu;
  const throttle = (list: { Path: string; Rate: number }[] | null | undefined): ThrottleDevice[] | undefined =>
    list?.length ? list.map((d) => ({ ...nums(d.Path), rate: d.Rate })) : undefined;
  const nums = (p: string) => {
    const { major, minor } = deviceNumbers(p);
    return { major, minor };
  };
  const weightDevice: WeightDevice[] | undefined = r.BlkioWeightDevice?.length ? r.BlkioWeightDevice.map((d) => ({ ...nums(d.Path), weight: d.Weight })) : undefined;
  const blockIO: NonNullable<Resources['blockIO']> = {
    weight: (r.BlkioWeight ?? 0) > 0 ? r.BlkioWeight : undefined,
    weightDevice,
    throttleReadBpsDevice: throttle(r.BlkioDeviceReadBps),
    throttleWriteBpsDevice: throttle(r.BlkioDeviceWriteBps),
    throttleReadIOPSDevice: throttle(r.BlkioDeviceReadIOps),
    throttleWriteIOPSDevice: throttle(r.BlkioDeviceWriteIOps),
  };
  const io = Object.fromEntries(Object.entries(blockIO).filter(([, v]) => v !== undefined));
  if (Object.keys(io).length) resources.blockIO = io;

  const devices: LinuxDevice[] = [];
  const deviceRules: DeviceRule[] = [];
  for (const d of r.Devices ?? []) {
    const n = deviceNumbers(d.PathOnHost);
    const st = statSync(d.PathOnHost);
    devices.push({ path: d.PathInContainer || d.PathOnHost, type: n.type, major: n.major, minor: n.minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    deviceRules.push({ allow: true, type: n.type, major: n.major, minor: n.minor, access: d.CgroupPermissions || 'rwm' });
  }
  for (const rule of r.DeviceCgroupRules ?? []) deviceRules.push(parseDeviceRule(rule));
  const rlimits = (r.Ulimits ?? []).map((u) => {
    if (!RLIMITS.includes(u.Name)) throw invalidArgument(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    return { type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard };
  });
  return {
    resources,
    devices,
    deviceRules,
    rlimits,
    oomScoreAdj: typeof hc.OomScoreAdj === 'number' ? hc.OomScoreAdj : undefined,
    cgroupNamespace: hc.CgroupnsMode === 'private' && cgroupSupport().cgroupNamespaces,
    cgroupParent: r.CgroupParent || undefined,
  };
}

/** The limits `docker update` may change, as they go into the live cgroup. */
export function liveResources(hc: HostConfig): LiveResources {
  const r = hc as HostConfig & ResourceFields;
  const nano = r.NanoCpus ?? 0;
  return {
    memory: { limit: (r.Memory ?? 0) > 0 ? r.Memory : -1, swap: (r.Memory ?? 0) > 0 ? (r.MemorySwap || -1) : -1, reservation: (r.MemoryReservation ?? 0) > 0 ? r.MemoryReservation : -1 },
    cpu: {
      shares: r.CpuShares || undefined,
      period: nano > 0 ? 100_000 : r.CpuPeriod || 100_000,
      quota: nano > 0 ? Math.round((nano / 1e9) * 100_000) : r.CpuQuota || -1,
      cpus: r.CpusetCpus || undefined,
      mems: r.CpusetMems || undefined,
    },
    pids: { limit: r.PidsLimit && r.PidsLimit > 0 ? r.PidsLimit : -1 },
    blockIO: { weight: r.BlkioWeight || undefined },
  };
}
