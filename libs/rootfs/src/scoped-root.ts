import { closeSync, constants as C, lstatSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';

const MAX_SYMLINKS = 255;
const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** `/proc/self/fd/<fd>/<name>`: the kernel looks `name` up in the directory the fd holds, like openat(2). */
export const fdPath = (fd: number, name = '') => (name ? `/proc/self/fd/${fd}/${name}` : `/proc/self/fd/${fd}`);

/**
 * Where a path landed inside a scoped root: an open fd of the directory that holds the last
 * component, that component's name ('' for the root itself) and the path as the container
 * names it. Operations on `fdPath(dirFd, name)` cannot leave the root, because every directory
 * on the way is held open and never looked up again by name; `close()` releases them.
 */
export interface Resolved {
  dirFd: number;
  name: string;
  /** Absolute, symlink-free path inside the root. */
  inRoot: string;
  close(): void;
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * A directory tree seen the way a process chrooted into it sees it (a container's rootfs):
 * symlinks are followed inside the tree, `..` stops at its top, absolute targets start at its
 * top. Unlike resolving a string and then opening it, each step here holds the directory it
 * reached open, so a component swapped for a symlink during the walk (a symlink race) can
 * only send the walk elsewhere inside the tree, never out of it.
 */
export class ScopedRoot {
  private constructor(private readonly rootFd: number) {}

  static open(root: string): ScopedRoot {
    return new ScopedRoot(openSync(root, C.O_RDONLY | C.O_DIRECTORY));
  }

  close(): void {
    closeSync(this.rootFd);
  }

  /**
   * Walks `path`; with `followLast` a symlink as the last component is followed too. A missing
   * last component is fine (the result names a path to create); a missing directory on the way
   * is ENOENT, a non-directory on the way ENOTDIR.
   */
  resolve(path: string, followLast: boolean): Resolved {
    // Re-opening through /proc gives a fd of our own to close; the magic link itself must be followed.
    const fds = [openSync(fdPath(this.rootFd), C.O_RDONLY | C.O_DIRECTORY)];
    const names: string[] = [];
    const close = () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    };
    try {
      const pending = path.split('/').filter((p) => p !== '' && p !== '.');
      let links = 0;
      while (pending.length > 0) {
        const part = pending.shift()!;
        if (part === '..') {
          if (fds.length > 1) {
            closeSync(fds.pop()!);
            names.pop();
          }
          continue;
        }
        const top = fds[fds.length - 1]!;
        const last = pending.length === 0;
        let st: Stats | undefined;
        try {
          st = lstatSync(fdPath(top, part));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (st?.isSymbolicLink() && (!last || followLast)) {
          if (++links > MAX_SYMLINKS) throw errno('ELOOP', `too many levels of symbolic links: ${path}`);
          const target = readlinkSync(fdPath(top, part));
          if (target.startsWith('/')) {
            while (fds.length > 1) closeSync(fds.pop()!);
            names.length = 0;
          }
          pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
          continue;
        }
        if (last) {
          const dirFd = fds.pop()!;
          return { dirFd, name: part, inRoot: `/${[...names, part].join('/')}`, close: () => (closeSync(dirFd), close()) };
        }
        if (!st) throw errno('ENOENT', `no such file or directory: ${path}`);
        if (!st.isDirectory()) throw errno('ENOTDIR', `not a directory: ${path}`);
        try {
          fds.push(openSync(fdPath(top, part), DIR_FLAGS));
          names.push(part);
        } catch (err) {
          // Swapped for a symlink since the lstat: look at it again.
          if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
            pending.unshift(part);
            continue;
          }
          throw err;
        }
      }
      // The root itself: its parent is itself.
      const dirFd = fds.pop()!;
      return { dirFd, name: '', inRoot: `/${names.join('/')}`, close: () => (closeSync(dirFd), close()) };
    } catch (err) {
      close();
      throw err;
    }
  }
}

/** The resolved path itself as an fd path (the directory's own fd when it is the root). */
export function resolvedPath(r: Resolved): string {
  return fdPath(r.dirFd, r.name);
}

/** Lexical clean of an archive member name; null when it is absolute or climbs out with `..`. */
export function cleanMemberName(name: string): string | null {
  if (name.startsWith('/')) return null;
  const clean = posix.normalize(name).replace(/\/+$/, '');
  if (clean === '..' || clean.startsWith('../')) return null;
  return clean === '' ? '.' : clean;
}
