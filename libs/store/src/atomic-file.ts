import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** A directory's entries on disk (a rename or an unlink made durable). */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `file` with `data` so that a crash at any point leaves either the old content or
 * the new one, never a torn file: write a temp file beside it, fsync it, rename over, fsync
 * the directory so the rename itself is durable.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  replaceFile(file, data, mode, true);
}

/**
 * Replaces `file` whole (temp file, rename), without fsync: for files that a power loss may take
 * away because nothing would read them after one, as under the exec root (tmpfs at /run, emptied
 * by a reboot), or because they are written again from a durable record before each use (a
 * container's hosts, hostname, resolv.conf). A process crash still leaves old or new, never torn.
 */
export function writeFileReplace(file: string, data: string | Uint8Array, mode = 0o644): void {
  replaceFile(file, data, mode, false);
}

function replaceFile(file: string, data: string | Uint8Array, mode: number, durable: boolean): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  if (durable) fsyncDir(dir);
}

/** Removes `file` durably; a missing file is not an error (removal is idempotent). */
export function removeFileDurable(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  fsyncDir(dirname(file));
}

/** Temp files left by a crash mid-write are never valid records; start-up clears them. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
