import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { libcErrno, libcFunction } from './libc';

/** One line of /proc/<pid>/uid_map: `size` ids from `containerID` inside are `hostID`... outside. */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * The new mount API (Linux 5.12+), which Node does not offer: a detached copy of a mount
 * (open_tree), given an id mapping (mount_setattr with MOUNT_ATTR_IDMAP), then attached
 * (move_mount). Loaded on first use.
 */
let libc:
  | {
      openTree: (dfd: number, path: string, flags: number) => number;
      mountSetattr: (dfd: number, path: string, flags: number, attr: Buffer, size: number) => number;
      moveMount: (fromDfd: number, fromPath: string, toDfd: number, toPath: string, flags: number) => number;
      errno: () => number;
    }
  | undefined;

function lib() {
  if (!libc) {
    libc = {
      openTree: libcFunction('int open_tree(int dfd, const char *path, unsigned int flags)'),
      mountSetattr: libcFunction('int mount_setattr(int dfd, const char *path, unsigned int flags, void *attr, size_t size)'),
      moveMount: libcFunction('int move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags)'),
      errno: libcErrno,
    };
  }
  return libc;
}

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOUNT_ATTR_IDMAP = 0x00100000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;

function fail(what: string, path: string): never {
  const errno = lib().errno();
  const err = new Error(`${what} ${path}: errno ${errno}`) as NodeJS.ErrnoException;
  err.errno = errno;
  throw err;
}

/**
 * A user namespace that holds these mappings, as an open file descriptor (close it when done).
 * A process cannot move a multi-threaded Node into a new namespace, so a short-lived child
 * creates it, this process writes its maps (root in the parent namespace may write any), keeps
 * a reference to the namespace, and ends the child.
 */
export async function userNamespaceFd(uids: IdRange[], gids: IdRange[]): Promise<number> {
  const child = spawn('unshare', ['--user', 'sleep', '60'], { stdio: 'ignore' });
  const pid = child.pid;
  if (!pid) throw new Error('unshare --user did not start');
  try {
    const mine = readlinkSync('/proc/self/ns/user');
    const deadline = Date.now() + 10_000;
    for (;;) {
      let ns = mine;
      try {
        ns = readlinkSync(`/proc/${pid}/ns/user`);
      } catch {
        // not there yet
      }
      if (ns !== mine) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('unshare --user did not make a user namespace');
      await new Promise((r) => setTimeout(r, 5));
    }
    const lines = (m: IdRange[]) => m.map((r) => `${r.containerID} ${r.hostID} ${r.size}\n`).join('');
    writeFileSync(`/proc/${pid}/uid_map`, lines(uids));
    writeFileSync(`/proc/${pid}/gid_map`, lines(gids));
    return openSync(`/proc/${pid}/ns/user`, 'r');
  } finally {
    child.kill('SIGKILL');
  }
}

/** Mounts `source` at `target` with the ids of `usernsFd`'s mappings (on-disk id = inside id). */
export function idmappedBind(source: string, target: string, usernsFd: number): void {
  const l = lib();
  const fd = l.openTree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) fail('open_tree', source);
  try {
    const attr = Buffer.alloc(32);
    attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_IDMAP), 0);
    attr.writeBigUInt64LE(BigInt(usernsFd), 24);
    if (l.mountSetattr(fd, '', AT_EMPTY_PATH, attr, attr.length) !== 0) fail('mount_setattr', source);
    if (l.moveMount(fd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) !== 0) fail('move_mount', target);
  } finally {
    closeSync(fd);
  }
}
