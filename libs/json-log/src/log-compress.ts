import { closeSync, constants, existsSync, fsyncSync, openSync, read, renameSync, rmSync, unlinkSync, write } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip, type Gunzip, type Gzip } from 'node:zlib';
import { compressedName, rotatedName } from './log-names';
import { fsyncDir } from '@berth/store';

const CHUNK = 256 * 1024;
const readAt = promisify(read);
const writeAll = promisify(write);

/**
 * `from` through zlib into `to`, both descriptors the caller keeps: fs streams given a descriptor
 * close it when the pipeline fails, which the caller's close then trips over (EBADF).
 */
async function transcode(from: number, z: Gzip | Gunzip, to: number): Promise<void> {
  await pipeline(
    async function* () {
      for (let pos = 0; ; ) {
        const { bytesRead, buffer } = await readAt(from, Buffer.allocUnsafe(CHUNK), 0, CHUNK, pos);
        if (bytesRead === 0) return;
        pos += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    },
    z,
    async function (out: AsyncIterable<Buffer>) {
      for await (const chunk of out) for (let off = 0; off < chunk.length; ) off += (await writeAll(to, chunk, off)).bytesWritten;
    },
  );
}

/** A compression not renamed in yet: no reader opens it, a monitor started again removes it. */
export const partialName = (log: string, n: number) => `${compressedName(log, n)}.tmp`;

/** Called after each step that is on disk: a spec stops there (as a SIGKILL would). */
export type CompressStep = (step: 'written' | 'renamed' | 'removed') => void;


/**
 * `.n` becomes `.n.gz`: gzip to a name no reader opens, fsync, rename, then the plain file goes.
 * Between the rename and the removal both are there with the same rows; `settleCompression`
 * (and the reader, which takes the plain one first) make that one file. A reader holding `.n`
 * open reads it to its end. Returns whether a file was compressed.
 */
export async function compressRotated(log: string, n: number, step?: CompressStep): Promise<boolean> {
  const plain = rotatedName(log, n);
  const gz = compressedName(log, n);
  const tmp = partialName(log, n);
  let src: number;
  try {
    src = openSync(plain, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    if (!existsSync(gz)) {
      const out = openSync(tmp, 'w', 0o640);
      try {
        await transcode(src, createGzip(), out);
        fsyncSync(out);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      } finally {
        closeSync(out);
      }
      step?.('written');
      renameSync(tmp, gz);
      fsyncDir(dirname(log));
      step?.('renamed');
    }
  } finally {
    closeSync(src);
  }
  rmSync(plain, { force: true });
  step?.('removed');
  return true;
}

/**
 * What a compression cut short left, made whole: a partial one is removed, a plain `.n` whose
 * `.n.gz` is there (renamed, not yet removed) goes. Returns the plain rotated files left to compress.
 */
export function settleCompression(log: string, maxFile: number): number[] {
  const left: number[] = [];
  for (let n = 1; n <= Math.max(1, maxFile - 1); n++) {
    rmSync(partialName(log, n), { force: true });
    if (!existsSync(rotatedName(log, n))) continue;
    if (existsSync(compressedName(log, n))) rmSync(rotatedName(log, n), { force: true });
    else left.push(n);
  }
  return left;
}

/** Every rotated file compressed, after whatever a crash left (`settleCompression`). */
export async function compressAll(log: string, maxFile: number): Promise<void> {
  for (const n of settleCompression(log, maxFile)) await compressRotated(log, n);
}

/** Linux's O_TMPFILE (with O_DIRECTORY): a file with no name, gone with its last descriptor. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/** A file with no name in `dir` (O_TMPFILE; where the filesystem lacks it, one created and unlinked at once). */
function unnamedFile(dir: string, hint: string): number {
  try {
    return openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EOPNOTSUPP' && code !== 'EISDIR' && code !== 'EINVAL') throw err;
  }
  const path = join(dir, `.${hint}.gunzip-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  return fd;
}

/**
 * A `.gz` piece inflated into a file with no name beside the log (a piece is about max-size), so
 * it is read as the plain ones are: by descriptor, with positional reads and a count from its end.
 * The caller owns the returned descriptor; `gzFd` stays open.
 */
export async function inflatedCopy(gzFd: number, log: string): Promise<number> {
  const fd = unnamedFile(dirname(log), basename(log));
  try {
    await transcode(gzFd, createGunzip(), fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}
