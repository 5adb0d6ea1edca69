import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '@berth/errors';

/** Linux gives up after this many symlinks in one lookup (ELOOP). */
const MAX_SYMLINKS = 40;

/**
 * The host path of `path` as a process chrooted at `root` would find it: symlinks are followed
 * inside the root (an absolute target starts again at the root, `..` stops at it), so the answer
 * never lies outside `root`. Components that do not exist are kept as they are.
 */
export function resolveInRoot(root: string, path: string): string {
  const todo = path.split('/').filter((c) => c !== '' && c !== '.').reverse();
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.pop()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, c);
    let target: string | undefined;
    try {
      if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
    } catch {
      // missing: nothing to follow
    }
    if (target === undefined) {
      done.push(c);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw invalidArgument(`too many levels of symbolic links: ${path}`);
    if (target.startsWith('/')) done.length = 0;
    todo.push(...target.split('/').filter((t) => t !== '' && t !== '.').reverse());
  }
  return join(root, ...done);
}
