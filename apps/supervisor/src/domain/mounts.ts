import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { invalidArgument } from '@berth/errors';
import type { Mount as OciMount } from '@berth/oci-spec';

export type MountType = 'volume' | 'bind' | 'tmpfs';

/** One mount of a container as the record keeps it; the Docker-visible part is `docker inspect`'s Mounts entry. */
export interface MountPoint {
  Type: MountType;
  /** Volume name; empty for an anonymous volume until it is created. */
  Name?: string;
  /** Host path: the volume's mountpoint or the bind source; empty for tmpfs. */
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Berth's own fields (not shown): how to create the volume and what tmpfs options to use. */
  anonymous?: boolean;
  copyData?: boolean;
  volumeLabels?: Record<string, string>;
  volumeOptions?: Record<string, string>;
  createSource?: boolean;
  tmpfsOptions?: string[];
}

/** The Engine API's mount object (HostConfig.Mounts), the fields Berth acts on. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export interface MountInputs {
  binds: string[];
  mounts: ApiMount[];
  tmpfs: Record<string, string>;
  /** Config.Volumes of the create body and of the image: anonymous volumes. */
  anonymous: string[];
  /** Mounts of the containers named in --volumes-from, already with the ro/rw override applied. */
  inherited: MountPoint[];
}

const cleanPath = (p: string) => posix.normalize(p).replace(/(.)\/+$/, '$1');
const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function cleanTarget(kind: MountType, target: string, spec?: string): string {
  const wrap = (msg: string) => invalidArgument(spec === undefined ? msg : `invalid volume specification: '${spec}': ${msg}`);
  if (!target) throw wrap(`invalid mount config for type "${kind}": field Target must not be empty`);
  if (!target.startsWith('/')) throw wrap(`invalid mount config for type "${kind}": invalid mount path: '${target}' mount path must be absolute`);
  const clean = cleanPath(target);
  if (clean === '/') throw wrap(`invalid mount config for type "${kind}": invalid specification: destination can't be '/'`);
  return clean;
}

/** `-v src:dst[:mode]`: a host path (absolute) is a bind, anything else names a volume. */
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw invalidArgument(`invalid volume specification: '${spec}'`);
  const [src, dst, mode = ''] = parts as [string, string, string?];
  const modes = mode ? mode.split(',') : [];
  let rw = true;
  let propagation = '';
  let copyData = true;
  for (const m of modes) {
    if (m === 'ro') rw = false;
    else if (m === 'rw') rw = true;
    else if (m === 'nocopy') copyData = false;
    else if (PROPAGATIONS.includes(m)) propagation = m;
    else if (!['z', 'Z', 'consistent', 'cached', 'delegated'].includes(m)) throw invalidArgument(`invalid mode: ${mode}`);
  }
  if (src.startsWith('/')) {
    return {
      Type: 'bind', Source: cleanPath(src), Destination: cleanTarget('bind', dst, spec), Mode: mode, RW: rw,
      Propagation: propagation || 'rprivate', createSource: true,
    };
  }
  if (!VOLUME_NAME.test(src)) {
    throw invalidArgument(
      `create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  if (propagation) throw invalidArgument(`invalid volume specification: '${spec}': propagation mode is only valid for bind mounts`);
  return { Type: 'volume', Name: src, Source: '', Destination: cleanTarget('volume', dst, spec), Driver: 'local', Mode: mode || 'z', RW: rw, Propagation: '', copyData };
}

function octal(mode: number): string {
  return mode.toString(8);
}

/** `--mount`, as the CLI sends it (HostConfig.Mounts). */
export function parseApiMount(m: ApiMount): MountPoint {
  const type = m.Type ?? '';
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') throw invalidArgument(`invalid mount config: mount type unknown: "${type}"`);
  const target = cleanTarget(type, m.Target ?? '');
  const src = m.Source ?? '';
  const rw = !m.ReadOnly;
  const bad = (msg: string) => invalidArgument(`invalid mount config for type "${type}": ${msg}`);
  if (type !== 'bind' && m.BindOptions) throw bad(`field BindOptions must not be specified`);
  if (type !== 'volume' && m.VolumeOptions) throw bad(`field VolumeOptions must not be specified`);
  if (type !== 'tmpfs' && m.TmpfsOptions) throw bad(`field TmpfsOptions must not be specified`);
  if (type === 'bind') {
    if (!src) throw bad('field Source must not be empty');
    if (!src.startsWith('/')) throw bad(`invalid mount path: '${src}' mount path must be absolute`);
    const propagation = m.BindOptions?.Propagation || 'rprivate';
    if (!PROPAGATIONS.includes(propagation)) throw bad(`invalid propagation mode: ${propagation}`);
    if (!m.BindOptions?.CreateMountpoint && !existsSync(src)) throw bad(`bind source path does not exist: ${src}`);
    return { Type: 'bind', Source: cleanPath(src), Destination: target, Mode: '', RW: rw, Propagation: propagation, createSource: m.BindOptions?.CreateMountpoint ?? false };
  }
  if (type === 'tmpfs') {
    if (src) throw bad('field Source must not be specified');
    const opts: string[] = [];
    const size = m.TmpfsOptions?.SizeBytes;
    if (size !== undefined && size !== 0) {
      if (!Number.isInteger(size) || size < 0) throw bad(`invalid tmpfs size: ${size}`);
      opts.push(`size=${Math.ceil(size / 1024)}k`);
    }
    if (m.TmpfsOptions?.Mode) opts.push(`mode=${octal(m.TmpfsOptions.Mode)}`);
    return { Type: 'tmpfs', Source: '', Destination: target, Mode: '', RW: rw, Propagation: '', tmpfsOptions: opts };
  }
  if (src && !VOLUME_NAME.test(src)) {
    throw bad(`invalid volume name: "${src}": only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  }
  const driver = m.VolumeOptions?.DriverConfig?.Name || 'local';
  return {
    Type: 'volume', Name: src, Source: '', Destination: target, Driver: driver, Mode: 'z', RW: rw, Propagation: '',
    anonymous: !src, copyData: !m.VolumeOptions?.NoCopy,
    volumeLabels: m.VolumeOptions?.Labels ?? {}, volumeOptions: m.VolumeOptions?.DriverConfig?.Options ?? {},
  };
}

/** `--tmpfs /run:rw,size=64m`. */
export function parseTmpfs(target: string, options: string): MountPoint {
  const opts = options ? options.split(',').filter(Boolean) : [];
  const rw = !opts.includes('ro');
  return { Type: 'tmpfs', Source: '', Destination: cleanTarget('tmpfs', target), Mode: '', RW: rw, Propagation: '', tmpfsOptions: opts.filter((o) => o !== 'ro' && o !== 'rw') };
}

/**
 * All of a container's mounts, by Docker's precedence: --volumes-from first, then -v binds,
 * --mount and --tmpfs (two of these on one destination is an error), and anonymous volumes
 * (Config.Volumes, image VOLUMEs) only where nothing else is mounted.
 */
export function resolveMounts(i: MountInputs): MountPoint[] {
  const byDest = new Map<string, MountPoint>();
  for (const m of i.inherited) byDest.set(m.Destination, m);
  const explicit = new Set<string>();
  const add = (m: MountPoint) => {
    if (explicit.has(m.Destination)) throw invalidArgument(`Duplicate mount point: ${m.Destination}`);
    explicit.add(m.Destination);
    byDest.set(m.Destination, m);
  };
  for (const b of i.binds) add(parseBind(b));
  for (const m of i.mounts) add(parseApiMount(m));
  for (const [target, opts] of Object.entries(i.tmpfs)) add(parseTmpfs(target, opts));
  for (const a of i.anonymous) {
    const dest = cleanTarget('volume', a);
    if (byDest.has(dest)) continue;
    byDest.set(dest, { Type: 'volume', Name: '', Source: '', Destination: dest, Driver: 'local', Mode: '', RW: true, Propagation: '', anonymous: true, copyData: true });
  }
  return [...byDest.values()];
}

/** The `--volumes-from c[:ro|:rw]` list split into container references and mode overrides. */
export function parseVolumesFrom(spec: string): { ref: string; rw?: boolean } {
  const i = spec.lastIndexOf(':');
  if (i < 0) return { ref: spec };
  const mode = spec.slice(i + 1);
  if (mode !== 'ro' && mode !== 'rw') throw invalidArgument(`invalid mode for volumes-from: ${mode}`);
  return { ref: spec.slice(0, i), rw: mode === 'rw' };
}

/** The mounts for the OCI spec, parents before children (so a mount inside another lands on top). */
export function ociMounts(points: MountPoint[]): OciMount[] {
  const depth = (p: string) => p.split('/').length;
  return [...points]
    .sort((a, b) => depth(a.Destination) - depth(b.Destination))
    .map((m) => {
      if (m.Type === 'tmpfs') {
        return { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.tmpfsOptions ?? []), m.RW ? 'rw' : 'ro'] };
      }
      return { destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.Propagation || 'rprivate', m.RW ? 'rw' : 'ro'] };
    });
}

/** The Mounts entry `docker inspect` and `docker ps` show. */
export function mountJson(m: MountPoint): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: m.Type };
  if (m.Type === 'volume') out.Name = m.Name;
  Object.assign(out, { Source: m.Source, Destination: m.Destination });
  if (m.Type === 'volume') out.Driver = m.Driver ?? 'local';
  return Object.assign(out, { Mode: m.Mode, RW: m.RW, Propagation: m.Propagation });
}
