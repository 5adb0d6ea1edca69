import { libcErrno, libcFunction } from './libc';

/**
 * mount(2) and umount2(2) in-process: the run path mounted and unmounted each rootfs through
 * `mount`/`umount` processes, each a fork and exec on a loaded machine, with the event loop
 * blocked while it ran. Loaded on first use.
 */
let libc:
  | {
      mount: (source: string | null, target: string, fstype: string | null, flags: number, data: string | null) => number;
      umount2: (target: string, flags: number) => number;
    }
  | undefined;

function lib() {
  libc ??= {
    mount: libcFunction('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: libcFunction('int umount2(const char *target, int flags)'),
  };
  return libc;
}

export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;

function fail(what: string, target: string): never {
  const errno = libcErrno();
  const err = new Error(`${what} ${target}: errno ${errno}`) as NodeJS.ErrnoException;
  err.errno = errno;
  throw err;
}

/** A file system mount of `fstype` with `data` as its options (no mount flags). */
export function mountFs(fstype: string, source: string, target: string, data: string): void {
  if (lib().mount(source, target, fstype, 0, data) !== 0) fail(`mount -t ${fstype}`, target);
}

/** `mount --make-private target`. */
export function makePrivate(target: string): void {
  if (lib().mount(null, target, null, MS_PRIVATE, null) !== 0) fail('mount --make-private', target);
}

export function umount(target: string, flags = 0): void {
  if (lib().umount2(target, flags) !== 0) fail('umount', target);
}
