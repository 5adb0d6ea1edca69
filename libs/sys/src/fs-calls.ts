import { libcErrno, libcFunction } from './libc';

/**
 * File system calls Node does not offer (mknod, lsetxattr, lgetxattr), reached through libc with koffi.
 * Loaded on first use, so importing this module costs nothing.
 */
let libc:
  | {
      mknod: (p: string, mode: number, dev: number) => number;
      lsetxattr: (p: string, n: string, v: Buffer, s: number, f: number) => number;
      lgetxattr: (p: string, n: string, v: Buffer, s: number) => number;
      errno: () => number;
    }
  | undefined;

function lib() {
  if (!libc) {
    libc = {
      mknod: libcFunction('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
      lsetxattr: libcFunction('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
      lgetxattr: libcFunction('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
      errno: libcErrno,
    };
  }
  return libc;
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** glibc's makedev encoding of a device number. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | (Math.floor(major / 0x1000) * 2 ** 32);
}

function check(rc: number, what: string, path: string): void {
  if (rc !== 0) {
    const errno = lib().errno();
    const err = new Error(`${what} ${path}: errno ${errno}`) as NodeJS.ErrnoException;
    err.errno = errno;
    throw err;
  }
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(lib().mknod(path, mode, makedev(major, minor)), 'mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(lib().lsetxattr(path, name, value, value.length, 0), 'lsetxattr', path);
}

const ENODATA = 61;

/** An extended attribute of `path` itself (not a symlink's target); null when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | null {
  const buf = Buffer.alloc(4096);
  const n = Number(lib().lgetxattr(path, name, buf, buf.length));
  if (n < 0) {
    const errno = lib().errno();
    if (errno === ENODATA) return null;
    const err = new Error(`lgetxattr ${path}: errno ${errno}`) as NodeJS.ErrnoException;
    err.errno = errno;
    throw err;
  }
  return buf.subarray(0, n);
}
