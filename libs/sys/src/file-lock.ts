import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { libcErrno, libcFunction } from './libc';

let flockCall: ((fd: number, op: number) => number) | undefined;

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

/**
 * flock(LOCK_EX | LOCK_NB) on an open fd: true when this open file description now holds the
 * lock (or held it already), false when another one does. The kernel drops the lock with the
 * last fd of that description, so a process killed by SIGKILL leaves no stale lock.
 */
export function tryLockFile(fd: number): boolean {
  flockCall ??= libcFunction('int flock(int fd, int operation)') as unknown as (fd: number, op: number) => number;
  for (;;) {
    if (flockCall(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = libcErrno();
    if (errno === EWOULDBLOCK) return false;
    if (errno === EINTR) continue;
    const err = new Error(`flock fd ${fd}: errno ${errno}`) as NodeJS.ErrnoException;
    err.errno = errno;
    throw err;
  }
}

/**
 * Opens `path` (made if missing) and takes its exclusive lock; returns the fd to keep open for as
 * long as the lock is wanted, or null while another process holds it. The fd is opened by Node,
 * hence O_CLOEXEC: children exec'd later do not inherit it, so none of them outlives this process
 * still holding the lock. The holder's pid is written into the file for whoever finds it held.
 */
export function tryLockPath(path: string): number | null {
  const fd = openSync(path, 'a+', 0o600);
  let locked = false;
  try {
    locked = tryLockFile(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) return null;
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  return fd;
}
