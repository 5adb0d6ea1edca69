/**
 * Berth's default seccomp profile: an allow-list, as Docker's is. Anything not listed fails with
 * EPERM. The table holds the syscall facts of Docker's default profile (names, argument filters,
 * capability- and architecture-conditional rules) in Berth's own shape; `resolveSeccomp` turns it
 * into the OCI `linux.seccomp` section for one container's capabilities on one host architecture.
 * User profiles in Docker's JSON format go through the same resolver (`seccomp-docker.ts`).
 */
import type { Seccomp, SeccompArg } from './types';

export const EPERM = 1;
export const ENOSYS = 38;

/** `process.arch` values, the way Node names the host's architecture. */
export type HostArch = 'x64' | 'ia32' | 'arm64' | 'arm' | 's390x' | 'ppc64' | 'riscv64' | 'loong64' | 'mips64el' | 'mipsel';

/** One row of a profile: the names it covers, the action (allow unless `errno` is set) and when it applies. */
export interface SyscallRule {
  names: readonly string[];
  /** Fail with this errno instead of allowing. */
  errno?: number;
  args?: readonly SeccompArg[];
  /** Applies only when the container holds every one of these capabilities. */
  withCaps?: readonly string[];
  /** Applies only when the container holds none of these capabilities. */
  withoutCaps?: readonly string[];
  /** Applies only on these host architectures. */
  onArches?: readonly HostArch[];
  /** Applies everywhere but these host architectures. */
  notOnArches?: readonly HostArch[];
  /** Applies only on kernels at least this new ("4.8"). */
  minKernel?: string;
}

export interface SeccompProfile {
  /** errno of every syscall no rule allows. */
  defaultErrno: number;
  /** A deny-list profile (user files may be one): what no rule names is allowed. */
  defaultAllow?: boolean;
  /** The native seccomp architecture of each host arch, with the ones it can also run. */
  arches: Partial<Record<HostArch, readonly string[]>>;
  rules: readonly SyscallRule[];
}

/** Syscalls every container may make, whatever its capabilities. */
const ALWAYS: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget', 'capset', 'chdir',
  'chmod', 'chown', 'chown32', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64',
  'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'close', 'close_range',
  'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl',
  'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2',
  'execve', 'execveat', 'exit', 'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64',
  'fallocate', 'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat',
  'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr',
  'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futex',
  'futex_requeue', 'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake', 'futimesat', 'getcpu', 'getcwd',
  'getdents', 'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups',
  'getgroups32', 'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority',
  'getrandom', 'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list',
  'getrusage', 'getsid', 'getsockname', 'getsockopt', 'get_thread_area', 'gettid', 'gettimeofday', 'getuid',
  'getuid32', 'getxattr', 'getxattrat', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents', 'io_pgetevents',
  'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit', 'ipc', 'kill',
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'lchown', 'lchown32', 'lgetxattr',
  'link', 'linkat', 'listen', 'listmount', 'listxattr', 'listxattrat', 'llistxattr', '_llseek', 'lremovexattr',
  'lseek', 'lsetxattr', 'lstat', 'lstat64', 'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create',
  'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap',
  'mmap2', 'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64',
  'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'mremap', 'mseal', 'msgctl', 'msgget', 'msgrcv',
  'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'name_to_handle_at', 'nanosleep', 'newfstatat',
  '_newselect', 'open', 'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2',
  'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv',
  'preadv2', 'prlimit64', 'process_mrelease', 'pselect6', 'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2',
  'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64',
  'recvmsg', 'remap_file_pages', 'removexattr', 'removexattrat', 'rename', 'renameat', 'renameat2',
  'restart_syscall', 'riscv_hwprobe', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask',
  'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp',
  'select', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send', 'sendfile', 'sendfile64',
  'sendmmsg', 'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32',
  'setgroups', 'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid',
  'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list',
  'setsid', 'setsockopt', 'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'setxattrat',
  'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask',
  'sigreturn', 'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statmount',
  'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time',
  'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime',
  'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime',
  'timerfd_settime64', 'times', 'tkill', 'truncate', 'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink',
  'unlinkat', 'uretprobe', 'utime', 'utimensat', 'utimensat_time64', 'utimes', 'vfork', 'vmsplice', 'wait4',
  'waitid', 'waitpid', 'write', 'writev',
];

/** Namespace-creating clone flags (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET). */
const CLONE_NS_FLAGS = 0x7e020000;

/** personality(2) values Docker lets through: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** socket(2) families a container may not open: AF_ALG (kernel crypto) and AF_VSOCK (a way to the host or hypervisor). */
const AF_ALG = 38;
const AF_VSOCK = 40;

const rules: SyscallRule[] = [
  { names: ALWAYS },
  // Since 4.8 seccomp filters cannot be bypassed by ptrace, so Docker allows tracing one's own children.
  { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], minKernel: '4.8' },
  { names: ['socket'], args: [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }] },
  { names: ['socket'], args: [{ index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }] },
  { names: ['socket'], args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }] },
  ...PERSONALITIES.map((value): SyscallRule => ({ names: ['personality'], args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
  { names: ['sync_file_range2', 'swapcontext'], onArches: ['ppc64'] },
  { names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], onArches: ['arm', 'arm64'] },
  { names: ['arch_prctl'], onArches: ['x64'] },
  { names: ['modify_ldt'], onArches: ['x64', 'ia32'] },
  { names: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], onArches: ['s390x'] },
  { names: ['riscv_flush_icache'], onArches: ['riscv64'] },
  { names: ['open_by_handle_at'], withCaps: ['CAP_DAC_READ_SEARCH'] },
  {
    names: [
      'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
      'lsm_get_self_attr', 'lsm_list_modules', 'lsm_set_self_attr', 'mount', 'mount_setattr', 'move_mount', 'open_tree',
      'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2',
      'unshare',
    ],
    withCaps: ['CAP_SYS_ADMIN'],
  },
  // Without CAP_SYS_ADMIN, clone may not create namespaces (s390 passes flags second).
  { names: ['clone'], args: [{ index: 0, value: CLONE_NS_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }], withoutCaps: ['CAP_SYS_ADMIN'], notOnArches: ['s390x'] },
  { names: ['clone'], args: [{ index: 1, value: CLONE_NS_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }], withoutCaps: ['CAP_SYS_ADMIN'], onArches: ['s390x'] },
  // clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone, which is filtered.
  { names: ['clone3'], errno: ENOSYS, withoutCaps: ['CAP_SYS_ADMIN'] },
  { names: ['reboot'], withCaps: ['CAP_SYS_BOOT'] },
  { names: ['chroot'], withCaps: ['CAP_SYS_CHROOT'] },
  { names: ['delete_module', 'init_module', 'finit_module'], withCaps: ['CAP_SYS_MODULE'] },
  { names: ['acct'], withCaps: ['CAP_SYS_PACCT'] },
  { names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'], withCaps: ['CAP_SYS_PTRACE'] },
  { names: ['iopl', 'ioperm'], withCaps: ['CAP_SYS_RAWIO'] },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], withCaps: ['CAP_SYS_TIME'] },
  { names: ['vhangup'], withCaps: ['CAP_SYS_TTY_CONFIG'] },
  { names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], withCaps: ['CAP_SYS_NICE'] },
  { names: ['syslog'], withCaps: ['CAP_SYSLOG'] },
  { names: ['bpf'], withCaps: ['CAP_BPF'] },
  { names: ['perf_event_open'], withCaps: ['CAP_PERFMON'] },
];

export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultErrno: EPERM,
  arches: {
    x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    ia32: ['SCMP_ARCH_X86'],
    arm: ['SCMP_ARCH_ARM'],
    s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
    riscv64: ['SCMP_ARCH_RISCV64'],
    loong64: ['SCMP_ARCH_LOONGARCH64'],
    ppc64: ['SCMP_ARCH_PPC64LE'],
    mips64el: ['SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'],
  },
  rules,
};

/** What decides which rows of a profile apply to one container. */
export interface SeccompHost {
  arch: HostArch;
  /** `uname -r`; rows with a `minKernel` are dropped on older kernels. Unknown counts as new enough. */
  kernel?: string;
}

function kernelAtLeast(kernel: string | undefined, min: string): boolean {
  if (!kernel) return true;
  const have = kernel.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const want = min.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) !== want[i]) return (have[i] ?? 0) > want[i]!;
  }
  return true;
}

function applies(r: SyscallRule, caps: ReadonlySet<string>, host: SeccompHost): boolean {
  if (r.withCaps && !r.withCaps.every((c) => caps.has(c))) return false;
  if (r.withoutCaps && r.withoutCaps.some((c) => caps.has(c))) return false;
  if (r.onArches && !r.onArches.includes(host.arch)) return false;
  if (r.notOnArches && r.notOnArches.includes(host.arch)) return false;
  if (r.minKernel && !kernelAtLeast(host.kernel, r.minKernel)) return false;
  return true;
}

/** The OCI seccomp section a profile gives a container holding `capabilities` on `host`. */
export function resolveSeccomp(profile: SeccompProfile, capabilities: readonly string[], host: SeccompHost): Seccomp {
  const caps = new Set(capabilities);
  const syscalls: Seccomp['syscalls'] = [];
  for (const r of profile.rules) {
    if (!applies(r, caps, host)) continue;
    const out: Seccomp['syscalls'][number] = { names: [...r.names], action: r.errno === undefined ? 'SCMP_ACT_ALLOW' : 'SCMP_ACT_ERRNO' };
    if (r.errno !== undefined) out.errnoRet = r.errno;
    if (r.args?.length) out.args = r.args.map((a) => ({ ...a, valueTwo: a.valueTwo ?? 0 }));
    syscalls.push(out);
  }
  const architectures = [...(profile.arches[host.arch] ?? [])];
  if (profile.defaultAllow) return { defaultAction: 'SCMP_ACT_ALLOW', architectures, syscalls };
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: profile.defaultErrno, architectures, syscalls };
}

export function hostArch(): HostArch {
  return process.arch as HostArch;
}

/** Docker's default profile for a container with these capabilities on this host. */
export function defaultSeccomp(capabilities: readonly string[], host: SeccompHost = { arch: hostArch() }): Seccomp {
  return resolveSeccomp(DEFAULT_SECCOMP_PROFILE, capabilities, host);
}

function argMatches(a: SeccompArg, v: number): boolean {
  switch (a.op) {
    case 'SCMP_CMP_EQ': return v === a.value;
    case 'SCMP_CMP_NE': return v !== a.value;
    case 'SCMP_CMP_LT': return v < a.value;
    case 'SCMP_CMP_LE': return v <= a.value;
    case 'SCMP_CMP_GT': return v > a.value;
    case 'SCMP_CMP_GE': return v >= a.value;
    case 'SCMP_CMP_MASKED_EQ': return Number(BigInt(v) & BigInt(a.value)) === (a.valueTwo ?? 0);
  }
}

/**
 * What a resolved section does with one call: 'allow' or the errno it answers. Rows are tried in
 * order and the first that matches decides (Berth's profiles never list one call under both an
 * allow and an errno row whose arguments overlap, so order does not change the answer).
 */
export function seccompVerdict(s: Seccomp, name: string, args: readonly number[] = []): 'allow' | number {
  for (const r of s.syscalls) {
    if (!r.names.includes(name)) continue;
    if (!(r.args ?? []).every((a) => argMatches(a, args[a.index] ?? 0))) continue;
    return r.action === 'SCMP_ACT_ALLOW' ? 'allow' : (r.errnoRet ?? EPERM);
  }
  return s.defaultAction === 'SCMP_ACT_ALLOW' ? 'allow' : (s.defaultErrnoRet ?? EPERM);
}
