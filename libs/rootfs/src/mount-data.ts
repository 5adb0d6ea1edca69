import { dirname, relative, sep } from 'node:path';

/** One mount of a snapshot, as the snapshotter describes it (containerd's Mount, in spirit). */
export interface MountSpec {
  type: string;
  source: string;
  options: string[];
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
