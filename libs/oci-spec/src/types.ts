/** The parts of the OCI runtime spec (v1.0.2) Berth writes, as plain data. */
export interface Spec {
  ociVersion: string;
  process: Process;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: Mount[];
  linux: Linux;
}

export interface Process {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[] };
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
  rlimits?: { type: string; hard: number; soft: number }[];
}

export interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface Namespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

export interface DeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

/** A range of ids: `size` ids from `containerID` in the container are `hostID`... on the host. */
export interface LinuxIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Linux {
  namespaces: Namespace[];
  uidMappings?: LinuxIdMapping[];
  gidMappings?: LinuxIdMapping[];
  maskedPaths: string[];
  readonlyPaths: string[];
  cgroupsPath: string;
  resources: Resources;
  sysctl?: Record<string, string>;
  seccomp?: Seccomp;
  devices?: LinuxDevice[];
}

/** A device node runc creates in the container's /dev. */
export interface LinuxDevice {
  path: string;
  type: 'c' | 'b' | 'p' | 'u';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';
}

export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** linux.resources: what runc writes into the container's cgroup. */
export interface Resources {
  devices: DeviceRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    swap?: number;
    kernel?: number;
    kernelTCP?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    realtimeRuntime?: number;
    realtimePeriod?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: WeightDevice[];
    throttleReadBpsDevice?: ThrottleDevice[];
    throttleWriteBpsDevice?: ThrottleDevice[];
    throttleReadIOPSDevice?: ThrottleDevice[];
    throttleWriteIOPSDevice?: ThrottleDevice[];
  };
}
