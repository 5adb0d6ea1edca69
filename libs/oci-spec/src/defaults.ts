import type { DeviceRule, Mount, Seccomp } from './types';

/** The capabilities Docker gives a container unless told otherwise. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability a privileged container gets (Linux 5.9+ set). */
export const ALL_CAPABILITIES = [
  ...DEFAULT_CAPABILITIES,
  'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE', 'CAP_AUDIT_CONTROL', 'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** The filesystems every container sees, before the user's own mounts. */
export function baseMounts(shmBytes: number): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmBytes}`] },
  ];
}

/** Deny every device, then allow the standard nodes runc creates (null, zero, full, tty, random, urandom, ptmx, pts). */
export const DEVICE_RULES: DeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
];

/**
 * Syscalls Docker's default seccomp profile keeps from containers (as its documentation lists
 * them), each with the capability that lifts the block where Docker has one. Berth writes the
 * same effect as a deny list: everything else is allowed.
 */
const BLOCKED_SYSCALLS: Record<string, string | undefined> = {
  acct: 'CAP_SYS_PACCT',
  add_key: undefined,
  bpf: 'CAP_BPF',
  clock_adjtime: 'CAP_SYS_TIME',
  clock_settime: 'CAP_SYS_TIME',
  create_module: 'CAP_SYS_MODULE',
  delete_module: 'CAP_SYS_MODULE',
  finit_module: 'CAP_SYS_MODULE',
  get_kernel_syms: 'CAP_SYS_MODULE',
  get_mempolicy: 'CAP_SYS_NICE',
  init_module: 'CAP_SYS_MODULE',
  ioperm: 'CAP_SYS_RAWIO',
  iopl: 'CAP_SYS_RAWIO',
  kcmp: 'CAP_SYS_PTRACE',
  kexec_file_load: 'CAP_SYS_BOOT',
  kexec_load: 'CAP_SYS_BOOT',
  keyctl: undefined,
  lookup_dcookie: 'CAP_SYS_ADMIN',
  mbind: 'CAP_SYS_NICE',
  mount: 'CAP_SYS_ADMIN',
  move_pages: 'CAP_SYS_NICE',
  name_to_handle_at: 'CAP_DAC_READ_SEARCH',
  nfsservctl: undefined,
  open_by_handle_at: 'CAP_DAC_READ_SEARCH',
  perf_event_open: 'CAP_PERFMON',
  pivot_root: 'CAP_SYS_ADMIN',
  process_vm_readv: 'CAP_SYS_PTRACE',
  process_vm_writev: 'CAP_SYS_PTRACE',
  ptrace: 'CAP_SYS_PTRACE',
  query_module: 'CAP_SYS_MODULE',
  quotactl: 'CAP_SYS_ADMIN',
  reboot: 'CAP_SYS_BOOT',
  request_key: undefined,
  set_mempolicy: 'CAP_SYS_NICE',
  setns: 'CAP_SYS_ADMIN',
  settimeofday: 'CAP_SYS_TIME',
  stime: 'CAP_SYS_TIME',
  swapon: 'CAP_SYS_ADMIN',
  swapoff: 'CAP_SYS_ADMIN',
  sysfs: undefined,
  _sysctl: undefined,
  umount: 'CAP_SYS_ADMIN',
  umount2: 'CAP_SYS_ADMIN',
  unshare: 'CAP_SYS_ADMIN',
  uselib: undefined,
  userfaultfd: 'CAP_SYS_PTRACE',
  ustat: undefined,
  vm86: undefined,
  vm86old: undefined,
};

const EPERM = 1;

export function defaultSeccomp(capabilities: string[]): Seccomp {
  const caps = new Set(capabilities);
  const names = Object.entries(BLOCKED_SYSCALLS)
    .filter(([, cap]) => cap === undefined || !caps.has(cap))
    .map(([name]) => name);
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    syscalls: [{ names, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }],
  };
}
