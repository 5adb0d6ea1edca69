import { readdirSync, readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { invalidArgument } from '@berth/errors';
import { capabilitiesInMask, hostArch, type LinuxDevice, normaliseCapabilities, parseDockerSeccomp, type SeccompProfile, type SpecInput } from '@berth/oci-spec';
import type { HostConfig } from './model';

/** What `--security-opt` entries ask for, read the way dockerd reads them. */
export interface SecurityOpts {
  /** 'default', 'unconfined', or a profile the user sent (the CLI inlines the file's JSON). */
  seccomp: 'default' | 'unconfined' | SeccompProfile;
  noNewPrivileges: boolean;
  apparmor?: string;
  labels: string[];
}

/** Parses HostConfig.SecurityOpt; bad entries get dockerd's messages (400). */
export function parseSecurityOpts(list: readonly string[] | null | undefined): SecurityOpts {
  const out: SecurityOpts = { seccomp: 'default', noNewPrivileges: false, labels: [] };
  for (const opt of list ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalidArgument(`invalid --security-opt 1: "${opt}"`);
    const at = opt.indexOf(sep);
    const key = opt.slice(0, at);
    const value = opt.slice(at + 1);
    switch (key) {
      case 'label':
        out.labels.push(value);
        break;
      case 'apparmor':
        out.apparmor = value;
        break;
      case 'seccomp':
        out.seccomp = value === 'unconfined' ? 'unconfined' : value === 'builtin' || value === '' ? 'default' : parseDockerSeccomp(value);
        break;
      case 'no-new-privileges': {
        const b = parseGoBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = b;
        break;
      }
      default:
        throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Every check of the security part of a create body, before anything is allocated. */
export function validateSecurity(hc: HostConfig): SecurityOpts {
  normaliseCapabilities(hc.CapAdd ?? []);
  normaliseCapabilities(hc.CapDrop ?? []);
  const mode = (hc.UsernsMode as string | undefined) ?? '';
  if (mode !== '' && mode !== 'host') throw invalidArgument(`invalid USER mode: ${mode}`);
  return parseSecurityOpts(hc.SecurityOpt);
}

/** Facts about the host that shape a container's security settings; read once. */
export interface HostSecurity {
  capabilities: string[];
  apparmor: boolean;
  kernel: string;
  devices(): LinuxDevice[];
}

let cached: HostSecurity | undefined;

export function hostSecurity(): HostSecurity {
  if (cached) return cached;
  const status = readText('/proc/self/status');
  const bnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  cached = {
    capabilities: bnd ? capabilitiesInMask(bnd) : capabilitiesInMask('ffffffffff'),
    apparmor: readText('/sys/module/apparmor/parameters/enabled').trim() === 'Y',
    kernel: release(),
    devices: () => hostDevices('/dev'),
  };
  return cached;
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** /dev's nodes the way Docker hands them to a privileged container: no pts, shm, mqueue or console. */
function hostDevices(dir: string): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/fd'].includes(path)) continue;
    let st;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st) continue;
    if (st.isDirectory()) {
      out.push(...hostDevices(path));
      continue;
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) continue;
    const rdev = Number(st.rdev);
    // Linux's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
    const major = ((rdev >> 8) & 0xfff) | Math.floor(rdev / 2 ** 32) & ~0xfff;
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    out.push({ path, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }
  return out;
}

/** The spec inputs the security options decide. */
export function securitySpec(hc: HostConfig, opts: SecurityOpts): Partial<SpecInput> {
  const host = hostSecurity();
  return {
    hostCapabilities: host.capabilities,
    seccomp: opts.seccomp === 'default' ? true : opts.seccomp === 'unconfined' ? false : opts.seccomp,
    seccompHost: { arch: hostArch(), kernel: host.kernel },
    noNewPrivileges: opts.noNewPrivileges,
    apparmorProfile: host.apparmor && opts.apparmor && opts.apparmor !== 'unconfined' ? opts.apparmor : undefined,
    hostDevices: hc.Privileged ? host.devices() : undefined,
  };
}
