import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

const MAX_SYMLINKS = 255;

/**
 * Turns `path`, as a process chrooted at `root` would name it, into a host path under `root`:
 * every symlink met on the way is followed as the chrooted process would follow it (absolute
 * targets and `..` stop at `root`), so the result never leaves `root`. With `followLast` false
 * a symlink as the last component is kept as is (`docker cp -L` off). Missing components are
 * kept literally, so the result also names a path to create.
 *
 * This only resolves; a caller that then opens the result still races a concurrent swap of a
 * component for a symlink, and must open with O_NOFOLLOW or check again under the open fd.
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  const pending = posix.normalize(`/${path}`).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let target: string | undefined;
    if (followLast || pending.length > 0) {
      try {
        if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
      } catch {
        target = undefined;
      }
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`too many levels of symbolic links: ${path}`), { code: 'ELOOP' });
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return join(root, ...done);
}
