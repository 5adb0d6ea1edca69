import { chmodSync, closeSync, constants as C, fchmodSync, futimesSync, linkSync, lstatSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ScopedRoot } from '@berth/rootfs';
import { invalidArgument } from '@berth/errors';
import { readTar } from '@berth/tar';
import { decompress } from '@berth/compression';

/** Largest context accepted (uncompressed bytes of file content). */
export const DEFAULT_MAX_CONTEXT_BYTES = 8 * 1024 * 1024 * 1024;

/** A clean member name relative to the context root, or an error for one that climbs out. */
function memberName(raw: string): string {
  if (raw.startsWith('/')) throw invalidArgument(`invalid build context: absolute path in archive: ${raw}`);
  const parts = raw.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`invalid build context: path escapes the context: ${raw}`);
  return parts.join('/');
}

/** No component on the way to `rel` may be a symlink: the archive could write through it. */
function checkParents(root: string, rel: string): void {
  const parts = rel.split('/');
  let p = root;
  for (const part of parts.slice(0, -1)) {
    p = join(p, part);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      mkdirSync(p, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) throw invalidArgument(`invalid build context: ${rel} is under a non-directory entry`);
  }
}

/**
 * Unpacks a build context (a tar, plain or compressed) into an empty directory that only
 * this build uses. Entries that are absolute, climb out with `..`, hardlink outside the
 * context or pass through a symlink are refused; devices are skipped; content is bounded.
 * Symlinks are kept as they are: COPY resolves them inside the context.
 */
export async function unpackContext(source: AsyncIterable<Buffer>, root: string, maxBytes = DEFAULT_MAX_CONTEXT_BYTES): Promise<void> {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let total = 0;
  for await (const e of readTar(decompress(source))) {
    const h = e.header;
    const rel = memberName(h.name);
    if (!rel) continue;
    checkParents(root, rel);
    const dest = join(root, rel);
    const mode = h.mode & 0o7777;
    switch (h.type) {
      case 'directory':
        try {
          if (!lstatSync(dest).isDirectory()) throw invalidArgument(`invalid build context: ${rel} is both a file and a directory`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          mkdirSync(dest, { mode: 0o755 });
        }
        chmodSync(dest, mode || 0o755);
        break;
      case 'file': {
        total += h.size;
        if (total > maxBytes) throw invalidArgument(`the build context is larger than ${maxBytes} bytes`);
        // O_NOFOLLOW|O_EXCL: an entry never writes through a symlink the archive made earlier.
        const fd = openSync(dest, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode || 0o644);
        // Synchronous writes on the open fd: a context is mostly small files, and a stream per
        // file (open, write, close on the thread pool) made unpacking the slowest part of a
        // cached rebuild. The loop still yields between the chunks the tar reader hands out.
        try {
          for await (const chunk of e.content) for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
          fchmodSync(fd, mode || 0o644);
          futimesSync(fd, h.mtimeSeconds, h.mtimeSeconds);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        symlinkSync(h.linkname, dest);
        break;
      case 'hardlink': {
        const target = memberName(h.linkname);
        checkParents(root, target);
        if (lstatSync(join(root, target)).isSymbolicLink()) throw invalidArgument(`invalid build context: hardlink to a symlink: ${rel}`);
        linkSync(join(root, target), dest);
        break;
      }
      default:
        // Devices and fifos have no business in a build context.
        break;
    }
  }
}

/**
 * A context path as a host path, symlinks followed inside the context only (a link to /etc
 * means <context>/etc, as Docker scopes them). null when it does not exist.
 */
export function inContext<T>(root: string, rel: string, fn: (path: string, inRoot: string) => T): T | null {
  const r = ScopedRoot.open(root);
  try {
    let res;
    try {
      res = r.resolve(rel, true);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
      throw err;
    }
    // The context is this build's own and no longer changes: the resolved path is a plain
    // host path without symlinks on the way.
    res.close();
    const p = join(root, res.inRoot);
    try {
      lstatSync(p);
    } catch {
      return null;
    }
    return fn(p, res.inRoot);
  } finally {
    r.close();
  }
}
