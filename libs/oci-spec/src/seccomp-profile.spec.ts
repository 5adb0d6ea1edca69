import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from './defaults';
import { parseDockerSeccomp } from './seccomp-docker';
import { defaultSeccomp, resolveSeccomp, seccompVerdict as verdict, type SeccompHost } from './seccomp-profile';
import type { Seccomp } from './types';

const X64: SeccompHost = { arch: 'x64', kernel: '6.1.0' };

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;

/** Facts of Docker's default profile, for the default capabilities on x86-64. */
const REFUSED: [string, number[]?][] = [
  ['unshare', [CLONE_NEWUSER]], ['setns'], ['mount'], ['umount2'], ['pivot_root'], ['keyctl'], ['add_key'], ['request_key'],
  ['ptrace-less: kexec_load'], ['init_module'], ['bpf'], ['perf_event_open'], ['userfaultfd'], ['io_uring_setup'],
  ['clock_settime'], ['settimeofday'], ['reboot'], ['swapon'], ['acct'], ['open_by_handle_at'], ['kcmp'], ['iopl'],
  ['socket', [40]], ['socket', [38]], ['personality', [0x0040000]], ['clone', [CLONE_NEWUSER | SIGCHLD]], ['clone', [CLONE_NEWNET]],
];
const ALLOWED: [string, number[]?][] = [
  ['read'], ['write'], ['openat'], ['execve'], ['getpid'], ['clone', [SIGCHLD]], ['socket', [2]], ['socket', [1]], ['socket', [39]],
  ['socket', [41]], ['personality', [8]], ['personality', [0xffffffff]], ['ptrace'], ['chroot'], ['arch_prctl'], ['name_to_handle_at'],
];

describe('default seccomp profile', () => {
  const profile = defaultSeccomp(DEFAULT_CAPABILITIES, X64);

  it('is an allow-list that answers EPERM', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('refuses what Docker refuses and allows what it allows', () => {
    for (const [name, args] of REFUSED) expect([name.replace(/^.*: /, ''), verdict(profile, name.replace(/^.*: /, ''), args)]).toEqual([name.replace(/^.*: /, ''), 1]);
    for (const [name, args] of ALLOWED) expect([name, args, verdict(profile, name, args)]).toEqual([name, args, 'allow']);
    // clone3's flags are out of seccomp's reach, so libc is told it does not exist and falls back to clone.
    expect(verdict(profile, 'clone3')).toBe(38);
  });

  it('lifts rules with the capabilities Docker names', () => {
    const admin = defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], X64);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone3', 'sethostname']) expect([n, verdict(admin, n, [CLONE_NEWUSER])]).toEqual([n, 'allow']);
    expect(verdict(admin, 'clone', [CLONE_NEWUSER])).toBe('allow');
    const more = defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE', 'CAP_SYS_MODULE', 'CAP_SYS_TIME', 'CAP_SYS_BOOT', 'CAP_DAC_READ_SEARCH'], X64);
    for (const n of ['kcmp', 'init_module', 'clock_settime', 'reboot', 'open_by_handle_at']) expect([n, verdict(more, n)]).toEqual([n, 'allow']);
    expect(verdict(defaultSeccomp(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'), X64), 'chroot')).toBe(1);
    // Before 4.8 ptrace could step around seccomp, so it needed CAP_SYS_PTRACE.
    expect(verdict(defaultSeccomp(DEFAULT_CAPABILITIES, { arch: 'x64', kernel: '4.4.0' }), 'ptrace')).toBe(1);
  });

  it('lists the architectures of the host it runs on', () => {
    expect(defaultSeccomp(DEFAULT_CAPABILITIES, { arch: 'arm64' }).architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(verdict(defaultSeccomp(DEFAULT_CAPABILITIES, { arch: 'arm64' }), 'arch_prctl')).toBe(1);
  });
});

/** Docker's own profile, kept beside the repository on development machines (not in CI's clean clone). */
function referenceProfile(): string | undefined {
  for (let dir = resolve(__dirname); ; dir = dirname(dir)) {
    const p = join(dir, 'shared', 'reference', 'seccomp-default.json');
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return undefined;
  }
}

describe('Docker profile files', () => {
  const ref = referenceProfile();

  it.skipIf(!ref)('the default matches Docker\'s own profile, rule for rule, for several capability sets', () => {
    const docker = parseDockerSeccomp(readFileSync(ref!, 'utf8'));
    const sets = [DEFAULT_CAPABILITIES, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], [...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE', 'CAP_BPF'], []];
    const norm = (s: Seccomp) => ({ ...s, syscalls: s.syscalls.map((r) => ({ ...r, names: [...r.names].sort() })) });
    for (const caps of sets) {
      for (const host of [X64, { arch: 'arm64' as const }, { arch: 's390x' as const }]) {
        expect(norm(defaultSeccomp(caps, host))).toEqual(norm(resolveSeccomp(docker, caps, host)));
      }
    }
  });
  if (!ref) console.log('seccomp: shared/reference/seccomp-default.json not found above the repository; comparison with Docker\'s file skipped');

  it('reads a user profile and refuses text that is not JSON as dockerd does', () => {
    const p = parseDockerSeccomp(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] }));
    const s = resolveSeccomp(p, DEFAULT_CAPABILITIES, X64);
    expect(verdict(s, 'chmod')).toBe(1);
    expect(verdict(s, 'mount')).toBe('allow');
    expect(() => parseDockerSeccomp('not json')).toThrow("Decoding seccomp profile failed: invalid character 'o' in literal null (expecting 'u')");
    expect(() => parseDockerSeccomp('xyz')).toThrow("Decoding seccomp profile failed: invalid character 'x' looking for beginning of value");
  });
});
