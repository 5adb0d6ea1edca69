import { invalidArgument } from '@berth/errors';
import {
  ALL_CAPABILITIES,
  baseMounts,
  DEFAULT_CAPABILITIES,
  DEFAULT_SHM_BYTES,
  DEVICE_RULES,
  MASKED_PATHS,
  READONLY_PATHS,
} from './defaults';
import { defaultSeccomp, resolveSeccomp, type SeccompHost, type SeccompProfile, hostArch } from './seccomp-profile';
import type { DeviceRule, LinuxDevice, LinuxIdMapping, Mount, Namespace, Resources, Spec } from './types';

/** What the supervisor knows when it writes a container's spec; all paths are host paths. */
export interface SpecInput {
  id: string;
  /** Entrypoint + Cmd, already merged with the image's. */
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  hostname: string;
  tty: boolean;
  consoleSize?: [number, number];
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  readonlyRootfs?: boolean;
  /** "none" / "host" / a netns path to join. */
  network: { mode: 'none' } | { mode: 'host' } | { mode: 'path'; path: string };
  /** `--pid`: the host's namespace or another container's (a /proc path); private when unset. */
  pid?: SharedNamespace;
  /**
   * `--ipc`: as pid, or a private namespace (`mode: 'private'`, for `shareable`). `shm` is a host
   * path bound on /dev/shm instead of the container's own tmpfs; `false` (`--ipc none`) means no
   * /dev/shm at all.
   */
  ipc?: (SharedNamespace | { mode: 'private' }) & { shm?: string | false };
  /** `--uts=host`: the host's hostname namespace (no hostname is set then). */
  utsHost?: boolean;
  shmSizeBytes?: number;
  memoryBytes?: number;
  nanoCpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
  sysctls?: Record<string, string>;
  /** false: unconfined (`seccomp=unconfined`); a profile: the user's own; unset: Docker's default. */
  seccomp?: boolean | SeccompProfile;
  /** The host's architecture and kernel, which pick the profile's rows. */
  seccompHost?: SeccompHost;
  noNewPrivileges?: boolean;
  /** AppArmor profile to apply (only passed where the host has AppArmor). */
  apparmorProfile?: string;
  /** The capabilities the host can hand out (its bounding set); privileged and ALL mean these. */
  hostCapabilities?: string[];
  /** Host device nodes a privileged container sees. */
  hostDevices?: LinuxDevice[];
  /** Host file mounted as /sbin/docker-init and run as the container's pid 1 (`--init`). */
  initBinary?: string;
  files: { hosts: string; resolvConf: string; hostname: string };
  extraMounts?: Mount[];
  cgroupParent?: string;
  /** Cgroup limits beyond memory/nanoCpus/cpuShares/pidsLimit, already in OCI form; they win. */
  resources?: Omit<Resources, 'devices'>;
  /** Extra device nodes (`--device`) and device cgroup rules (theirs and `--device-cgroup-rule`). */
  devices?: LinuxDevice[];
  deviceRules?: DeviceRule[];
  rlimits?: { type: string; hard: number; soft: number }[];
  oomScoreAdj?: number;
  /** `--cgroupns private`: the container gets its own cgroup namespace. */
  cgroupNamespace?: boolean;
  /** The daemon's `--userns-remap` (unless `--userns=host`): a user namespace with these mappings. */
  idMappings?: { uids: LinuxIdMapping[]; gids: LinuxIdMapping[] };
}

export type SharedNamespace = { mode: 'host' } | { mode: 'path'; path: string };

/** The namespace entry of a private or shared namespace; none at all means the host's. */
function namespaceEntry(type: Namespace['type'], shared: SharedNamespace | { mode: 'private' } | undefined): Namespace[] {
  if (!shared || shared.mode === 'private') return [{ type }];
  return shared.mode === 'host' ? [] : [{ type, path: shared.path }];
}

function normaliseCap(c: string): string {
  const up = c.toUpperCase();
  return up === 'ALL' ? 'ALL' : up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/** Docker's check of --cap-add/--cap-drop names (and its message for an unknown one). */
export function normaliseCapabilities(list: string[] = []): string[] {
  return list.map((raw) => {
    const c = normaliseCap(raw);
    if (c !== 'ALL' && !ALL_CAPABILITIES.includes(c)) throw invalidArgument(`unknown capability: "${c}"`);
    return c;
  });
}

/**
 * Docker's rule: start from the defaults (or all when privileged), drop, then add; ALL works in
 * both. "All" is what the host's bounding set holds, since a capability outside it cannot be given.
 */
export function capabilities(privileged: boolean, add: string[] = [], drop: string[] = [], host: string[] = ALL_CAPABILITIES): string[] {
  const all = ALL_CAPABILITIES.filter((c) => host.includes(c));
  if (privileged) return all;
  const adds = normaliseCapabilities(add);
  const drops = normaliseCapabilities(drop);
  let caps: string[];
  if (adds.includes('ALL')) caps = all.filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  return [...new Set(caps)];
}

export function buildSpec(i: SpecInput): Spec {
  const caps = capabilities(i.privileged ?? false, i.capAdd, i.capDrop, i.hostCapabilities);
  const namespaces: Namespace[] = [...namespaceEntry('pid', i.pid), ...namespaceEntry('ipc', i.ipc), ...(i.utsHost ? [] : [{ type: 'uts' as const }]), { type: 'mount' }];
  if (i.network.mode === 'none') namespaces.push({ type: 'network' });
  if (i.cgroupNamespace) namespaces.push({ type: 'cgroup' });
  if (i.network.mode === 'path') namespaces.push({ type: 'network', path: i.network.path });
  if (i.idMappings) namespaces.push({ type: 'user' });
  const bind = (destination: string, source: string, ro = false): Mount => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'],
  });
  const extra = i.extraMounts ?? [];
  // A user mount on a default destination (e.g. --tmpfs /dev/shm) replaces the default, as in Docker.
  const mounts = [
    ...baseMounts(i.shmSizeBytes && i.shmSizeBytes > 0 ? i.shmSizeBytes : DEFAULT_SHM_BYTES),
    bind('/etc/resolv.conf', i.files.resolvConf),
    bind('/etc/hostname', i.files.hostname),
    bind('/etc/hosts', i.files.hosts),
    ...(i.initBinary ? [bind('/sbin/docker-init', i.initBinary, true)] : []),
  ].filter((m) => !extra.some((e) => e.destination === m.destination)).concat(extra);
  // A shared IPC namespace is no use without the shared memory that goes with it.
  const shm = i.ipc?.shm;
  if (shm) for (const [n, m] of mounts.entries()) if (m.destination === '/dev/shm' && m.type === 'tmpfs') mounts[n] = bind('/dev/shm', shm);
  if (shm === false) {
    const own = mounts.findIndex((m) => m.destination === '/dev/shm' && m.type === 'tmpfs');
    if (own >= 0) mounts.splice(own, 1);
  }
  if (i.idMappings) {
    for (const [n, m] of mounts.entries()) {
      // sysfs may only be mounted by the user namespace that owns the network namespace, and the
      // container's (made by netproxy before the container) belongs to the host's: the host's /sys
      // is bound instead, read-only. As dockerd does, the cgroup mount loses its ro, which a user
      // namespace cannot remount.
      if (m.destination === '/sys' && m.type === 'sysfs' && i.network.mode !== 'none') mounts[n] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
      if (m.type === 'cgroup') m.options = m.options.filter((o) => o !== 'ro');
    }
  }
  if (i.privileged) {
    for (const m of mounts) if (m.destination === '/sys' || m.destination === '/sys/fs/cgroup') m.options = m.options.filter((o) => o !== 'ro').concat('rw');
  }
  const resources: Spec['linux']['resources'] = {
    devices: i.privileged ? [{ allow: true, access: 'rwm' }] : [...DEVICE_RULES.map((d) => ({ ...d })), ...(i.deviceRules ?? [])],
  };
  if (i.memoryBytes) resources.memory = { limit: i.memoryBytes };
  if (i.nanoCpus || i.cpuShares) {
    resources.cpu = {};
    if (i.cpuShares) resources.cpu.shares = i.cpuShares;
    if (i.nanoCpus) {
      resources.cpu.period = 100_000;
      resources.cpu.quota = Math.round((i.nanoCpus / 1e9) * 100_000);
    }
  }
  if (i.pidsLimit && i.pidsLimit > 0) resources.pids = { limit: i.pidsLimit };
  const more = i.resources ?? {};
  if (more.memory) resources.memory = { ...resources.memory, ...more.memory };
  if (more.cpu) resources.cpu = { ...resources.cpu, ...more.cpu };
  if (more.blockIO) resources.blockIO = more.blockIO;
  if (more.pids) resources.pids = more.pids;
  const spec: Spec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: i.tty,
      user: i.user,
      args: i.initBinary ? ['/sbin/docker-init', '--', ...i.args] : i.args,
      env: i.env,
      cwd: i.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
      noNewPrivileges: i.noNewPrivileges ?? false,
    },
    root: { path: 'rootfs', readonly: i.readonlyRootfs ?? false },
    hostname: i.network.mode === 'host' ? '' : i.hostname,
    mounts,
    linux: {
      namespaces,
      maskedPaths: i.privileged ? [] : MASKED_PATHS,
      readonlyPaths: i.privileged ? [] : READONLY_PATHS,
      cgroupsPath: cgroupsPathFor(i.id, i.cgroupParent),
      resources,
    },
  };
  if (i.idMappings) {
    spec.linux.uidMappings = i.idMappings.uids.map((m) => ({ ...m }));
    spec.linux.gidMappings = i.idMappings.gids.map((m) => ({ ...m }));
  }
  if (i.devices?.length) spec.linux.devices = i.devices;
  if (i.rlimits?.length) spec.process.rlimits = i.rlimits;
  if (i.oomScoreAdj) spec.process.oomScoreAdj = i.oomScoreAdj;
  if (i.consoleSize) spec.process.consoleSize = { height: i.consoleSize[0], width: i.consoleSize[1] };
  if (i.sysctls && Object.keys(i.sysctls).length) spec.linux.sysctl = i.sysctls;
  // Docker gives a privileged container no seccomp filter, whatever profile was asked for.
  const seccompHost = i.seccompHost ?? { arch: hostArch() };
  if (!i.privileged && typeof i.seccomp === 'object') spec.linux.seccomp = resolveSeccomp(i.seccomp, caps, seccompHost);
  else if (!i.privileged && i.seccomp !== false) spec.linux.seccomp = defaultSeccomp(caps, seccompHost);
  if (i.apparmorProfile) spec.process.apparmorProfile = i.apparmorProfile;
  if (i.privileged && i.hostDevices?.length) spec.linux.devices = i.hostDevices.map((d) => ({ ...d }));
  if (i.network.mode === 'host' || i.utsHost) spec.hostname = '';
  return spec;
}

/** `/berth/<id>` by default; a `--cgroup-parent` is taken from the cgroup root, as dockerd's cgroupfs driver does. */
export function cgroupsPathFor(id: string, parent?: string): string {
  const p = (parent || '/berth').replace(/\/+$/, '');
  return `${p.startsWith('/') ? p : `/${p}`}/${id}`;
}
