import { join } from 'node:path';
import { CGROUP_ROOT, cgroupVersion } from './host';

/**
 * Where a container's cgroup lives, from the spec's `linux.cgroupsPath`: a path for the cgroupfs
 * driver, or runc's "slice:prefix:name" for the systemd driver (a scope under the slice).
 */
export function cgroupRelPath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) return cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
  const [slice, prefix, name] = parts as [string, string, string];
  return `${expandSlice(slice || '-.slice')}/${prefix ? `${prefix}-` : ''}${name}.scope`;
}

/** systemd's slice nesting: "a-b.slice" lives at /a.slice/a-b.slice. */
function expandSlice(slice: string): string {
  if (slice === '-.slice') return '';
  const base = slice.replace(/\.slice$/, '');
  const segs = base.split('-');
  let path = '';
  for (let i = 1; i <= segs.length; i++) path += `/${segs.slice(0, i).join('-')}.slice`;
  return path;
}

/** The directory holding `controller`'s files for the cgroup (v2: one directory for all). */
export function cgroupDir(controller: string, cgroupsPath: string, root = CGROUP_ROOT): string {
  const rel = cgroupRelPath(cgroupsPath);
  return cgroupVersion(root) === '2' ? join(root, rel) : join(root, controller, rel);
}
