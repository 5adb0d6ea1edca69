import { existsSync, readFileSync } from 'node:fs';
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
  cgroupDriver: 'cgroupfs';
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
    // A unified hierarchy has cgroup.controllers at its root; hybrid and v1 hosts do not.
    cgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1',
    cgroupDriver: 'cgroupfs',
  };
}
