/**
 * Seccomp profiles in Docker's JSON format (what `--security-opt seccomp=<file>` sends): parsed
 * into Berth's profile shape so one resolver serves both the default profile and users' files.
 */
import { invalidArgument } from '@berth/errors';
import { EPERM, type HostArch, type SeccompProfile, type SyscallRule } from './seccomp-profile';
import type { SeccompArg } from './types';

interface DockerFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string;
}

interface DockerSyscall {
  name?: string;
  names?: string[] | null;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: DockerFilter;
  excludes?: DockerFilter;
}

interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  syscalls?: DockerSyscall[] | null;
}

/** Docker names architectures in filters the way Go does (runtime.GOARCH), plus a few aliases. */
const GO_ARCH: Record<string, HostArch[]> = {
  amd64: ['x64'], x86: ['ia32'], '386': ['ia32'], x32: [], arm64: ['arm64'], arm: ['arm'], s390x: ['s390x'], s390: [],
  ppc64le: ['ppc64'], riscv64: ['riscv64'], loong64: ['loong64'], mips64le: ['mips64el'], mipsle: ['mipsel'],
};

const NATIVE: Record<HostArch, string> = {
  x64: 'SCMP_ARCH_X86_64', ia32: 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM', s390x: 'SCMP_ARCH_S390X',
  ppc64: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64', loong64: 'SCMP_ARCH_LOONGARCH64', mips64el: 'SCMP_ARCH_MIPSEL64',
  mipsel: 'SCMP_ARCH_MIPSEL',
};

const arches = (l: string[] | null | undefined) => (l?.length ? l.flatMap((a) => GO_ARCH[a] ?? []) : undefined);

/** What Go's encoding/json says about the first thing it cannot read, which clients show as is. */
function decodeError(text: string, err: unknown): string {
  const first = text.trimStart()[0];
  if (first === undefined) return 'unexpected end of JSON input';
  if (!'{["tfn-0123456789'.includes(first)) return `invalid character '${first}' looking for beginning of value`;
  const lit = { t: 'true', f: 'false', n: 'null' }[first as 't' | 'f' | 'n'];
  if (lit) {
    const word = text.trimStart();
    for (let i = 1; i < lit.length; i++) {
      if (word[i] !== lit[i]) return word[i] === undefined ? 'unexpected end of JSON input' : `invalid character '${word[i]}' in literal ${lit} (expecting '${lit[i]}')`;
    }
  }
  return (err as Error).message;
}

/** A Docker-format profile (JSON text) as rows Berth's resolver reads. */
export function parseDockerSeccomp(text: string): SeccompProfile {
  let doc: DockerProfile;
  try {
    doc = JSON.parse(text) as DockerProfile;
  } catch (err) {
    throw invalidArgument(`Decoding seccomp profile failed: ${decodeError(text, err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw invalidArgument('Decoding seccomp profile failed: json: cannot unmarshal into Go value of type seccomp.Seccomp');
  }
  if (doc.architectures?.length && doc.archMap?.length) {
    throw invalidArgument("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const action = doc.defaultAction ?? 'SCMP_ACT_ERRNO';
  if (action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_ALLOW') {
    throw invalidArgument(`seccomp profile: default action ${action} is not supported by Berth (SCMP_ACT_ERRNO or SCMP_ACT_ALLOW)`);
  }
  const archTable: SeccompProfile['arches'] = {};
  for (const host of Object.keys(NATIVE) as HostArch[]) {
    if (doc.architectures?.length) archTable[host] = doc.architectures;
    const m = doc.archMap?.find((a) => a.architecture === NATIVE[host]);
    if (m) archTable[host] = [m.architecture, ...(m.subArchitectures ?? [])];
  }
  const rules: SyscallRule[] = [];
  for (const s of doc.syscalls ?? []) {
    const names = s.names?.length ? s.names : s.name ? [s.name] : [];
    if (!names.length) throw invalidArgument('Decoding seccomp profile failed: a syscall rule has no names');
    if (s.action !== 'SCMP_ACT_ALLOW' && s.action !== 'SCMP_ACT_ERRNO') {
      throw invalidArgument(`seccomp profile: action ${s.action} is not supported by Berth (SCMP_ACT_ERRNO or SCMP_ACT_ALLOW)`);
    }
    const rule: SyscallRule = {
      names,
      errno: s.action === 'SCMP_ACT_ERRNO' ? (s.errnoRet ?? EPERM) : undefined,
      args: s.args ?? undefined,
      withCaps: s.includes?.caps?.length ? s.includes.caps : undefined,
      withoutCaps: s.excludes?.caps?.length ? s.excludes.caps : undefined,
      onArches: arches(s.includes?.arches),
      notOnArches: arches(s.excludes?.arches),
      minKernel: s.includes?.minKernel,
    };
    rules.push(rule);
  }
  return { defaultErrno: doc.defaultErrnoRet ?? EPERM, defaultAllow: action === 'SCMP_ACT_ALLOW', arches: archTable, rules };
}
