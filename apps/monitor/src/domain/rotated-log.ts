import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type K8sReadOptions, openK8sLog, tailOffset } from './k8s-log';
import { compressedName, heldName, inflatedCopy, type LogLine, rotatedName } from '@berth/json-log';

/** How often a follower looks for a log not created yet (conmon creates it when the container starts). */
const APPEAR_POLL_MS = 50;

/** One file of the log, held open by descriptor: a rotation renames (or, with max-file 1, removes) its name. */
interface Piece {
  fd: number;
  /** Of the file at the name (a `.gz` one's, not its inflated copy's): the same file met twice is read once. */
  ino: number;
  /** A `.N.gz` whose fd is still the compressed file; `inflate` swaps in a plain copy. */
  gz?: boolean;
}

function openPiece(path: string, gz?: boolean): Piece | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { fd, ino: fstatSync(fd).ino, ...(gz ? { gz } : {}) };
}

/** A rotated file as plain `.n`, or (compress=true) as `.n.gz`: the plain one first, it is there until its `.gz` is whole. */
function openRotated(path: string, n: number): Piece | undefined {
  return openPiece(rotatedName(path, n)) ?? openPiece(compressedName(path, n), true);
}

async function inflate(p: Piece, path: string): Promise<void> {
  if (!p.gz) return;
  const plain = await inflatedCopy(p.fd, path);
  closeSync(p.fd);
  p.fd = plain;
  delete p.gz;
}

function inodeAt(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The file behind our descriptor, whatever it is called by now (the row scan of `k8s-log.ts` opens by path). */
const byDescriptor = (p: Piece) => `/proc/self/fd/${p.fd}`;

async function rowsFromEnd(p: Piece, n: number, counted: { rows: number }, continues: boolean): Promise<number> {
  const fh = await open(byDescriptor(p), 'r');
  try {
    return await tailOffset(fh, n, counted, continues);
  } finally {
    await fh.close();
  }
}

/**
 * Tells a follower, in the same turn, that the log's path has a new file (the rotation is done),
 * or with `reshaping` that the ended run's files are about to be cut into pieces (the path's file
 * is still the one that was written).
 */
export type OnRotate = (rotated: (reshaping?: boolean) => void) => () => void;

/**
 * A conmon log with its rotated files (`.N` … `.1`, then the live one) as one log, oldest first.
 * The files are opened newest first and the same file met twice (a rotation while opening) is
 * read once, so a rotation during the read neither loses nor repeats rows of the snapshot.
 * `--tail` counts back from the end across files. A follower reads the live file until a
 * rotation gives the path a new file (conmon has then closed the old one, so its end is its
 * end), then goes on with the file that came after it. With `onRotate` (the rotator in this
 * process) each new file is opened the moment it exists, so a follower that lags behind the
 * writer by more than max-file files still reads every one: it holds them open.
 */
export async function openRotatedK8sLog(path: string, maxFile: number, o: K8sReadOptions & { frames?: undefined }, onRotate?: OnRotate): Promise<AsyncGenerator<LogLine[]>>;
export async function openRotatedK8sLog(path: string, maxFile: number, o: K8sReadOptions, onRotate?: OnRotate): Promise<AsyncGenerator<Buffer | LogLine[]>>;
export async function openRotatedK8sLog(path: string, maxFile: number, o: K8sReadOptions, onRotate?: OnRotate): Promise<AsyncGenerator<Buffer | LogLine[]>> {
  const pieces: Piece[] = [];
  const seen = new Set<number>();
  const follow = o.follow;
  /** Told that the ended run's files are being cut: a new file at the path is then a copy of rows read. */
  let reshaped = false;
  let off: (() => void) | undefined;
  const closeAll = () => {
    off?.();
    off = undefined;
    for (const p of pieces.splice(0)) closeSync(p.fd);
  };
  const add = (p: Piece | undefined): boolean => {
    if (!p) return false;
    if (seen.has(p.ino)) {
      closeSync(p.fd);
      return false;
    }
    seen.add(p.ino);
    pieces.push(p);
    return true;
  };
  let startAt = 0;
  let startOffset = 0;
  try {
    // Newest first; the held file and max-file 1's `.1` are there only for a moment, while conmon opens the new file.
    const found: Piece[] = [];
    const opens = [() => openPiece(path), () => openPiece(heldName(path)), ...Array.from({ length: Math.max(1, maxFile - 1) }, (_, i) => () => openRotated(path, i + 1))];
    for (const openOne of opens) {
      const p = openOne();
      if (!p) continue;
      if (seen.has(p.ino)) {
        closeSync(p.fd);
        continue;
      }
      seen.add(p.ino);
      found.unshift(p);
      // A live attach only wants what comes after the offset it took of the live file.
      if (o.fromOffset !== undefined) break;
    }
    pieces.push(...found);
    if (follow && onRotate) {
      off = onRotate((reshaping) => {
        // Cutting the ended run's file: a follower that has it reads it to its end and stops (the
        // pieces are copies of its rows); one still waiting for its first file takes it now.
        if (reshaping) {
          reshaped = true;
          if (!pieces.length) add(openPiece(path));
          return;
        }
        // A follower still waiting for the first file: that file is `.1` by now.
        if (!pieces.length) add(openPiece(rotatedName(path, 1)));
        add(openPiece(path));
      });
    }
    startAt = o.fromOffset !== undefined ? pieces.length - 1 : 0;
    startOffset = o.fromOffset ?? 0;
    if (o.fromOffset === undefined && o.tail >= 0) {
      let left = o.tail;
      const counted = { rows: 0 };
      for (let i = pieces.length - 1; i >= 0; i--) {
        startAt = i;
        // A compressed file is inflated only when the count reaches it: `--tail 5` reads the live file alone.
        await inflate(pieces[i]!, path);
        // A file with a newer one after it: its trailing P rows are the head of a line counted there.
        startOffset = await rowsFromEnd(pieces[i]!, left, counted, i < pieces.length - 1);
        left -= counted.rows;
        // All of a file taken: its first rows may end a line the file before began.
        if (left <= 0 && (startOffset > 0 || fstatSync(pieces[i]!.fd).size === 0)) break;
      }
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  // No file yet (a container not started) and no follower: an empty log.
  if (!pieces.length && !follow) {
    closeAll();
    return openK8sLog(path, o);
  }

  const rotatedAway = (p: Piece) => {
    const now = inodeAt(path);
    return now !== undefined && now !== p.ino;
  };
  const isLast = (i: number) => i === pieces.length - 1;
  const read = async (i: number, fromOffset: number) => {
    const p = pieces[i]!;
    // Held open since the call, so a shift that drops its name meanwhile takes nothing away.
    await inflate(p, path);
    return openK8sLog(byDescriptor(p), {
      ...o,
      tail: -1,
      fromOffset,
      follow: follow && !follow.ended() && isLast(i) ? { ended: () => follow.ended() || !isLast(i) || rotatedAway(p), onEnd: follow.onEnd } : undefined,
    });
  };
  /**
   * A rotation this process was not told of (yet: conmon's new file is there a moment before the
   * rotator's notice): where the file is now tells which name came after it. After a notice that
   * the run's files are being cut, a new file at the path is a copy of rows already read.
   */
  const after = (p: Piece): boolean => {
    let next = path;
    for (let n = 1; n <= Math.max(1, maxFile - 1); n++) {
      if (inodeAt(rotatedName(path, n)) === p.ino) {
        next = n === 1 ? path : rotatedName(path, n - 1);
        break;
      }
    }
    return add(openPiece(next));
  };

  // The first file is opened now, so that a log that cannot be read fails the call, not the stream.
  let first: AsyncGenerator<Buffer | LogLine[]> | undefined;
  try {
    if (pieces.length) first = await read(startAt, startOffset);
  } catch (err) {
    closeAll();
    throw err;
  }
  async function* gen(): AsyncGenerator<Buffer | LogLine[]> {
    try {
      let i = startAt;
      if (first) yield* first;
      else {
        while (!pieces.length && !add(openPiece(path)) && !follow!.ended()) await new Promise((r) => setTimeout(r, APPEAR_POLL_MS));
        if (!pieces.length && !add(openPiece(path))) return;
        i = 0;
        yield* await read(0, 0);
      }
      for (;;) {
        if (isLast(i) && !(follow && !reshaped && rotatedAway(pieces[i]!) && after(pieces[i]!))) return;
        i++;
        yield* await read(i, 0);
      }
    } finally {
      closeAll();
    }
  }
  return gen();
}
