import { readFileSync } from 'node:fs';
import { cgroupDriver, cgroupSupport, cgroupVersion } from '@berth/cgroups';
import { arch, cpus, hostname, release, totalmem } from 'node:os';

export interface HostFacts {
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  name: string;
  cgroupVersion: '1' | '2';
  cgroupDriver: 'cgroupfs' | 'systemd';
}

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x' };

function osRelease(): Record<string, string> {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .map((l) => /^([A-Z_]+)=("?)(.*)\2$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[3]!]),
    );
  } catch {
    return {};
  }
}

/** Facts about this host for `docker info`, read from the kernel and /etc, never made up. */
export function hostFacts(): HostFacts {
  const os = osRelease();
  return {
    kernelVersion: release(),
    operatingSystem: os.PRETTY_NAME ?? 'Linux',
    osVersion: os.VERSION_ID ?? '',
    architecture: ARCH[arch()] ?? arch(),
    ncpu: cpus().length,
    memTotal: totalmem(),
    name: hostname(),
    cgroupVersion: cgroupVersion(),
    cgroupDriver: cgroupDriver(),
  };
}

const sysctlOn = (path: string) => {
  try {
    return readFileSync(path, 'utf8').trim() === '1';
  } catch {
    return false;
  }
};

/** docker info's resource flags and dockerd's warnings for what the kernel lacks (daemon/info_unix.go). */
export function resourceInfo(): { flags: Record<string, boolean>; warnings: string[] } {
  const s = cgroupSupport();
  const v1 = cgroupVersion() === '1';
  const flags = {
    MemoryLimit: s.memoryLimit,
    SwapLimit: s.swapLimit,
    KernelMemory: s.kernelMemory,
    KernelMemoryTCP: s.kernelMemoryTcp,
    CpuCfsPeriod: s.cpuCfs,
    CpuCfsQuota: s.cpuCfs,
    CPUShares: s.cpuShares,
    CPUSet: s.cpuset,
    PidsLimit: s.pidsLimit,
    OomKillDisable: s.oomKillDisable,
    IPv4Forwarding: sysctlOn('/proc/sys/net/ipv4/ip_forward'),
    BridgeNfIptables: sysctlOn('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    BridgeNfIp6tables: sysctlOn('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
  };
  const w: string[] = [];
  if (!flags.MemoryLimit) w.push('WARNING: No memory limit support');
  if (!flags.SwapLimit) w.push('WARNING: No swap limit support');
  if (v1 && !flags.KernelMemoryTCP) w.push('WARNING: No kernel memory TCP limit support');
  if (v1 && !flags.OomKillDisable) w.push('WARNING: No oom kill disable support');
  if (!flags.CpuCfsQuota) w.push('WARNING: No cpu cfs quota support');
  if (!flags.CpuCfsPeriod) w.push('WARNING: No cpu cfs period support');
  if (!flags.CPUShares) w.push('WARNING: No cpu shares support');
  if (!flags.CPUSet) w.push('WARNING: No cpuset support');
  if (!v1 && !flags.PidsLimit) w.push('WARNING: No pids limit support');
  if (!flags.IPv4Forwarding) w.push('WARNING: IPv4 forwarding is disabled');
  if (!flags.BridgeNfIptables) w.push('WARNING: bridge-nf-call-iptables is disabled');
  if (!flags.BridgeNfIp6tables) w.push('WARNING: bridge-nf-call-ip6tables is disabled');
  return { flags, warnings: w };
}
