import {
  closeSync, constants as C, fchmodSync, fchownSync, fstatSync, futimesSync, linkSync, lchownSync, lstatSync, lutimesSync,
  mkdirSync, openSync, read, readdirSync, readlinkSync, type Stats, symlinkSync, unlinkSync, write,
} from 'node:fs';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { decompress } from '@berth/compression';
import { failedPrecondition, invalidArgument, notFound } from '@berth/errors';
import { type TarEntry, type TarHeaderInput, type TarWriter, asUntarError, readTar } from '@berth/tar';
import { cleanMemberName, fdPath, type Resolved, type ScopedRoot } from '@berth/rootfs';
import { mknod } from '@berth/sys';

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const CHUNK_BYTES = 1 << 20;

/** Docker's ContainerPathStat. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits, which the CLI decodes. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Unix mode -> Go os.FileMode (type bits high, permission bits low). */
export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m |= 1 << 23;
  if (st.mode & 0o2000) m |= 1 << 22;
  if (st.mode & 0o1000) m |= 1 << 20;
  if (st.isDirectory()) m |= 1 << 31;
  else if (st.isSymbolicLink()) m |= 1 << 27;
  else if (st.isFIFO()) m |= 1 << 25;
  else if (st.isSocket()) m |= 1 << 24;
  else if (st.isCharacterDevice()) m |= (1 << 26) | (1 << 21);
  else if (st.isBlockDevice()) m |= 1 << 26;
  return m >>> 0;
}

/** Docker's rule: the last component is followed only when the path ends in "/" or "/.". */
export const followsLast = (path: string) => /\/\.?$/.test(path);

/** The base name the archive's entries start with: "." for "dir/." (contents), else the last component. */
function rebaseName(path: string): string {
  if (/\/\.$/.test(path)) return '.';
  const clean = posix.normalize(`/${path}`).replace(/\/+$/, '');
  return clean === '' ? '/' : posix.basename(clean);
}

/** lstat of what a walk reached; the root itself is its own fd (its /proc path is a magic link). */
function lstatResolved(r: Resolved): Stats {
  return r.name ? lstatSync(fdPath(r.dirFd, r.name)) : fstatSync(r.dirFd);
}

function missing(path: string, container: string) {
  return notFound(`Could not find the file ${path} in container ${container}`);
}

function resolveExisting(root: ScopedRoot, path: string, container: string): { r: Resolved; st: Stats } {
  let r: Resolved;
  try {
    r = root.resolve(path, followsLast(path));
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw missing(path, container);
    throw err;
  }
  try {
    return { r, st: lstatResolved(r) };
  } catch {
    r.close();
    throw missing(path, container);
  }
}

function toPathStat(root: ScopedRoot, path: string, st: Stats): PathStat {
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    const t = root.resolve(path, true);
    linkTarget = t.inRoot;
    t.close();
  }
  return { name: rebaseName(path), size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget };
}

export function statPath(root: ScopedRoot, path: string, container: string): PathStat {
  const { r, st } = resolveExisting(root, path, container);
  try {
    return toPathStat(root, path, st);
  } finally {
    r.close();
  }
}

const sameNode = (a: Stats, b: Stats) => a.ino === b.ino && a.dev === b.dev && ((a.mode ^ b.mode) & C.S_IFMT) === 0;

function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  return { devmajor: Math.floor(rdev / 256) & 0xfff, devminor: (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00) };
}

const readAsync = promisify(read);
const writeAsync = promisify(write);

/** A file's bytes, read off the event loop so a big copy does not stall the supervisor. */
async function* fileContent(fd: number, size: number): AsyncGenerator<Uint8Array> {
  let left = size;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, left));
    const { bytesRead } = await readAsync(fd, buf, 0, buf.length, null);
    // A file that shrank while read: pad, so the archive stays well-formed with the size announced.
    if (bytesRead === 0) {
      yield Buffer.alloc(left);
      return;
    }
    left -= bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** The top entry of a download, opened before its stat is sent so that both describe one node. */
interface Pinned {
  fd?: number;
  st: Stats;
}

/**
 * Opens the entry a download starts from and stats it through that fd: whatever the container
 * swaps afterwards, the stat header and the archive come from the same node. A symlink (which
 * O_NOFOLLOW will not open) is taken as the link itself.
 */
function pin(r: Resolved): Pinned {
  try {
    const fd = openSync(fdPath(r.dirFd, r.name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.isDirectory() || st.isFile()) return { fd, st };
    closeSync(fd);
    return { st };
  } catch {
    return { st: lstatSync(fdPath(r.dirFd, r.name)) };
  }
}

/**
 * Writes a tar of the entry `name` in the directory `dirFd` under `archiveName`, recursing
 * through directories by fd: nothing is looked up by a full path, so a component swapped for
 * a symlink mid-walk is archived as the symlink it became, never followed.
 */
async function addTree(tar: TarWriter, dirFd: number, name: string, archiveName: string, links: Map<string, string>, pinned?: Pinned): Promise<void> {
  const p = fdPath(dirFd, name);
  let st: Stats;
  if (pinned) st = pinned.st;
  else {
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
  }
  const base: TarHeaderInput = { name: archiveName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeSeconds: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) {
    let fd: number;
    try {
      fd = pinned?.fd ?? openSync(p, DIR_FLAGS);
    } catch {
      return;
    }
    try {
      if (!pinned && !sameNode(fstatSync(fd), st)) return;
      await tar.add({ ...base, name: `${archiveName}/`, type: 'directory' });
      for (const child of readdirSync(fdPath(fd)).sort()) await addTree(tar, fd, child, `${archiveName}/${child}`, links);
    } finally {
      closeSync(fd);
    }
  } else if (st.isSymbolicLink()) {
    await tar.add({ ...base, type: 'symlink', linkname: readlinkSync(p) });
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first !== undefined) {
      await tar.add({ ...base, type: 'hardlink', linkname: first });
      return;
    }
    if (st.nlink > 1) links.set(key, archiveName);
    let fd: number;
    try {
      fd = pinned?.fd ?? openSync(p, C.O_RDONLY | C.O_NOFOLLOW);
    } catch {
      return;
    }
    try {
      const now = fstatSync(fd);
      if (now.ino !== st.ino) return;
      await tar.add({ ...base, type: 'file', size: now.size }, fileContent(fd, now.size));
    } finally {
      closeSync(fd);
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    await tar.add({ ...base, type: st.isCharacterDevice() ? 'char-device' : 'block-device', ...devNumbers(st.rdev) });
  } else if (st.isFIFO()) {
    await tar.add({ ...base, type: 'fifo' });
  }
}

/** `GET /containers/{id}/archive`: the stat, then a tar of the path into `tar`. */
export async function archivePath(root: ScopedRoot, path: string, container: string, tar: TarWriter, onStat: (s: PathStat) => void): Promise<void> {
  const { r, st: first } = resolveExisting(root, path, container);
  let pinned: Pinned | undefined;
  try {
    if (r.name !== '') {
      try {
        pinned = pin(r);
      } catch {
        throw missing(path, container);
      }
    }
    const stat = toPathStat(root, path, pinned?.st ?? first);
    onStat(stat);
    if (r.name === '') {
      // The root itself: its entries, under the rebase name.
      await tar.add({ name: `${stat.name === '/' ? '.' : stat.name}/`, type: 'directory', mode: 0o755 });
      for (const child of readdirSync(fdPath(r.dirFd)).sort()) await addTree(tar, r.dirFd, child, `${stat.name === '/' ? '.' : stat.name}/${child}`, new Map());
    } else {
      // addTree closes a pinned fd when it is done with it.
      const p = pinned!;
      pinned = undefined;
      await addTree(tar, r.dirFd, r.name, stat.name, new Map(), p);
    }
    await tar.finish();
  } finally {
    if (pinned?.fd !== undefined) closeSync(pinned.fd);
    r.close();
  }
}

/** A whole tree (`docker export`), entries relative to it. */
export async function archiveTree(root: ScopedRoot, tar: TarWriter): Promise<void> {
  const r = root.resolve('/', true);
  try {
    const links = new Map<string, string>();
    for (const child of readdirSync(fdPath(r.dirFd)).sort()) await addTree(tar, r.dirFd, child, child, links);
    await tar.finish();
  } finally {
    r.close();
  }
}

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  copyUidGid: boolean;
  /** What the archive may expand to once decompressed; unbounded when not given. */
  maxExpandedBytes?: number;
}

function refuse(h: { name: string; linkname?: string }, what: string) {
  return invalidArgument(`refusing archive entry ${JSON.stringify(h.name)}${h.linkname ? ` -> ${JSON.stringify(h.linkname)}` : ''}: ${what}`);
}

async function writeAll(fd: number, e: TarEntry): Promise<void> {
  for await (const chunk of e.content) {
    let off = 0;
    while (off < chunk.length) off += (await writeAsync(fd, chunk, off, chunk.length - off)).bytesWritten;
  }
}

/** Like tar, makes the directories an entry's name needs when the archive did not list them. */
function ensureParents(root: ScopedRoot, dest: string, name: string): void {
  const parts = name.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const r = root.resolve(posix.join(dest, ...parts.slice(0, i)), true);
    try {
      const p = fdPath(r.dirFd, r.name);
      if (r.name && !existsQuiet(p)) {
        mkdirSync(p, 0o755);
      }
    } finally {
      r.close();
    }
  }
}

function existsQuiet(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `PUT /containers/{id}/archive`: extracts `source` into the directory at `path`. Each entry
 * is placed by walking the container's root with ScopedRoot (symlinks inside the container
 * are followed as the container would, never out of it); files are created with O_EXCL |
 * O_NOFOLLOW and their modes and owners set through the open fd, so a swapped symlink can
 * never redirect a write, chmod or chown to the host.
 */
export async function extractArchive(root: ScopedRoot, path: string, container: string, source: AsyncIterable<Uint8Array> | Uint8Array, o: ExtractOptions): Promise<void> {
  const chunks = source instanceof Uint8Array ? (async function* () { yield source; })() : source;
  try {
    await extractInto(root, path, container, decompress(chunks, { maxOutputBytes: o.maxExpandedBytes }), o);
  } catch (err) {
    throw asUntarError(err);
  }
}

async function extractInto(root: ScopedRoot, path: string, container: string, source: AsyncIterable<Uint8Array>, o: ExtractOptions): Promise<void> {
  let dest: string;
  {
    let r: Resolved;
    try {
      r = root.resolve(path, true);
    } catch {
      throw missing(path, container);
    }
    try {
      const st = lstatResolved(r);
      if (!st.isDirectory()) throw invalidArgument('extraction point is not a directory');
      dest = r.inRoot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path, container);
      throw err;
    } finally {
      r.close();
    }
  }
  const dirTimes: { path: string; mtime: number }[] = [];
  for await (const e of readTar(source)) {
    const h = e.header;
    const name = cleanMemberName(h.name);
    if (name === null) throw refuse(h, 'it points outside the destination');
    if (h.type === 'hardlink' && cleanMemberName(h.linkname) === null) throw refuse(h, 'the link points outside the destination');
    if (h.type === 'symlink' && !h.linkname.startsWith('/') && cleanMemberName(posix.join(posix.dirname(name), h.linkname)) === null) {
      throw refuse(h, 'the link points outside the destination');
    }
    if (name === '.' || h.type === 'other') continue;
    const uid = o.copyUidGid ? h.uid : 0;
    const gid = o.copyUidGid ? h.gid : 0;
    let r: Resolved;
    try {
      ensureParents(root, dest, name);
      r = root.resolve(posix.join(dest, name), false);
    } catch (err) {
      // A parent that is a file, a link to nowhere or a loop: the archive does not fit this tree.
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) {
        throw invalidArgument(`cannot extract ${JSON.stringify(h.name)}: ${(err as Error).message}`);
      }
      throw err;
    }
    try {
      const target = fdPath(r.dirFd, r.name);
      let existing: Stats | undefined;
      try {
        existing = lstatSync(target);
      } catch {
        existing = undefined;
      }
      if (existing) {
        const isDir = h.type === 'directory';
        if (existing.isDirectory() && !isDir) throw invalidArgument(`cannot overwrite directory "${r.inRoot}" with non-directory "${name}"`);
        if (!existing.isDirectory() && isDir && o.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite non-directory "${r.inRoot}" with directory "${name}"`);
        if (!existing.isDirectory()) unlinkSync(target);
      }
      switch (h.type) {
        case 'directory': {
          if (!existing?.isDirectory()) mkdirSync(target, 0o700);
          const fd = openSync(target, DIR_FLAGS);
          try {
            fchownSync(fd, uid, gid);
            fchmodSync(fd, h.mode);
          } finally {
            closeSync(fd);
          }
          dirTimes.push({ path: r.inRoot, mtime: h.mtimeSeconds });
          break;
        }
        case 'file': {
          const fd = openSync(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
          try {
            await writeAll(fd, e);
            fchownSync(fd, uid, gid);
            fchmodSync(fd, h.mode);
            futimesSync(fd, h.mtimeSeconds, h.mtimeSeconds);
          } finally {
            closeSync(fd);
          }
          break;
        }
        case 'symlink':
          symlinkSync(h.linkname, target);
          lchownSync(target, uid, gid);
          lutimesSync(target, h.mtimeSeconds, h.mtimeSeconds);
          break;
        case 'hardlink': {
          const l = root.resolve(posix.join(dest, cleanMemberName(h.linkname)!), false);
          try {
            linkSync(fdPath(l.dirFd, l.name), target);
          } finally {
            l.close();
          }
          break;
        }
        case 'char-device':
        case 'block-device':
        case 'fifo': {
          const type = h.type === 'fifo' ? C.S_IFIFO : h.type === 'char-device' ? C.S_IFCHR : C.S_IFBLK;
          mknod(target, type | (h.mode & 0o7777), h.devmajor, h.devminor);
          lchownSync(target, uid, gid);
          break;
        }
      }
    } finally {
      r.close();
    }
  }
  // Directory times last: adding their entries changed them.
  for (const d of dirTimes.reverse()) {
    const r = root.resolve(d.path, false);
    try {
      const fd = openSync(fdPath(r.dirFd, r.name), DIR_FLAGS);
      futimesSync(fd, d.mtime, d.mtime);
      closeSync(fd);
    } catch {
      // gone or swapped meanwhile: times are best effort
    } finally {
      r.close();
    }
  }
}
