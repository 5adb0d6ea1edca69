import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

interface MountSpec {
  type: string;
  source: string;
  options: string[];
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

/** Mounts the snapshot at `<bundle>/rootfs` (idempotent: a mount left by a previous run is kept). */
export function mountRootfs(bundle: string): string {
  const target = join(bundle, 'rootfs');
  mkdirSync(target, { recursive: true });
  if (mounted(target)) return target;
  const mounts = JSON.parse(readFileSync(join(bundle, 'rootfs-mounts.json'), 'utf8')) as MountSpec[];
  for (const m of mounts) {
    const opts = m.options.filter((o) => o !== 'rbind');
    if (m.type === 'bind') {
      execFileSync('mount', ['--rbind', m.source, target]);
      if (opts.includes('ro')) execFileSync('mount', ['-o', 'remount,bind,ro', target]);
    } else {
      const { data, cwd } = fitMountData(opts);
      execFileSync('mount', ['-t', m.type, m.source, target, '-o', data], { cwd });
    }
  }
  execFileSync('mount', ['--make-private', target]);
  return target;
}

export function unmountRootfs(bundle: string): void {
  const target = join(bundle, 'rootfs');
  for (let i = 0; i < 8 && mounted(target); i++) {
    try {
      execFileSync('umount', [target]);
    } catch {
      execFileSync('umount', ['-l', target]);
    }
  }
}

/** The kernel takes at most one page of mount options. */
const MOUNT_DATA_MAX = 4095;
const PATH_KEYS = new Set(['lowerdir', 'upperdir', 'workdir']);

/**
 * Overlay options that fit the one-page limit: when absolute paths make them too long (images
 * with many layers), the paths become relative to their common parent and mount runs there,
 * since overlayfs resolves relative layer paths from the mounting process's directory.
 */
export function fitMountData(options: string[]): { data: string; cwd?: string } {
  const data = options.join(',');
  if (data.length <= MOUNT_DATA_MAX) return { data };
  const paths = options.flatMap((o) => {
    const [k, v] = splitOption(o);
    return PATH_KEYS.has(k) ? v.split(':') : [];
  });
  if (paths.length === 0) return { data };
  let base = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(base + sep)) && base !== sep) base = dirname(base);
  const short = options.map((o) => {
    const [k, v] = splitOption(o);
    return PATH_KEYS.has(k) ? `${k}=${v.split(':').map((p) => relative(base, p)).join(':')}` : o;
  });
  return { data: short.join(','), cwd: base };
}

function splitOption(o: string): [string, string] {
  const i = o.indexOf('=');
  return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
}
