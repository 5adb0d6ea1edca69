import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { compressedName, rotatedName } from './log-names';
import { fsyncDir } from '@berth/store';

/** Bytes read or copied at a time: memory stays at this whatever the log's size. */
const CHUNK = 1024 * 1024;
const NL = 0x0a;

/** The plan of a split whose pieces are all written: a monitor started again carries it out from this. */
interface Journal {
  maxFile: number;
  /** How many of the pieces are kept (the newest ones); piece 0 is the newest, the live file to be. */
  pieces: number;
  /** Inodes of `.1 … .(maxFile-1)` (or of `.n.gz`) when the pieces were written (0: no file), to find each one again. */
  olds: number[];
  /** `.1` was cut with the live file, as the start of one stream: its rows are in the pieces, the pieces take its name. */
  joined?: boolean;
}

/** What the cut reads: a file, or `.1` and the live file read as one. */
interface Source {
  read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}
type Handle = Awaited<ReturnType<typeof open>>;

/** `.1` then the live file, as one run of bytes: a position past the end of `.1` is in the live file. */
function joinedSource(first: Handle, firstSize: number, live: Handle): Source {
  return {
    async read(buf, offset, length, position) {
      if (position >= firstSize) return live.read(buf, offset, length, position - firstSize);
      return first.read(buf, offset, Math.min(length, firstSize - position), position);
    },
  };
}

const journalOf = (log: string) => `${log}.split`;
/** Piece `i` before it takes its name; not a name the reader looks at (`<log>.<n>`). */
export const pieceName = (log: string, i: number) => `${log}.split.${i}`;

/**
 * Called after each step that is on disk: a test stops the split there (as a SIGKILL would) and
 * checks what a monitor started again makes of the files.
 */
export type SplitStep = (step: string) => void;

function inodeAt(path: string): number {
  try {
    return statSync(path).ino;
  } catch {
    return 0;
  }
}


/**
 * Where each piece of the file starts, as dockerd would have cut it writing the same rows: a file
 * takes rows until it holds max-size bytes or more (the row that gets it there stays in it), then
 * the next row starts the next file. Only the starts of the newest `keep` pieces are kept, so a
 * 1 GiB file with a small max-size costs one chunk, not a list of its pieces. The bytes after the
 * last newline (a row conmon never finished) stay in the last piece.
 */
async function pieceStarts(fd: Source, size: number, maxSize: number, keep: number): Promise<{ starts: number[]; total: number }> {
  const starts = [0];
  let total = 1;
  const buf = Buffer.allocUnsafe(CHUNK);
  // The piece that starts at `from` ends with the row holding byte `from + maxSize - 1`. One read
  // serves every cut within it; a max-size past the chunk skips to where the next cut is looked for.
  let want = maxSize - 1;
  for (let pos = want; pos < size; ) {
    const { bytesRead } = await fd.read(buf, 0, Math.min(CHUNK, size - pos), pos);
    if (bytesRead === 0) break;
    for (let at = want - pos; at < bytesRead; at = want - pos) {
      const nl = buf.indexOf(NL, at);
      if (nl < 0 || nl >= bytesRead) break;
      const from = pos + nl + 1;
      if (from >= size) return { starts, total };
      starts.push(from);
      total++;
      if (starts.length > keep) starts.shift();
      want = from + maxSize - 1;
    }
    pos = Math.max(pos + bytesRead, want);
  }
  return { starts, total };
}

async function copyRange(src: Source, to: string, start: number, end: number, mode: number): Promise<void> {
  rmSync(to, { force: true });
  const out = await open(to, 'wx', mode);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = start; pos < end; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, end - pos), pos);
      if (bytesRead === 0) throw new Error(`${to}: the log ended at ${pos}, before ${end}`);
      await out.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
    await out.sync();
  } finally {
    await out.close();
  }
}

/**
 * Moves every file to its place from the journal. Each step is looked for on disk before it is
 * done (an old file is found by its inode, a piece by its name), so it runs again from any point
 * a SIGKILL left it at. The live file is replaced last, by a rename: until then it holds every row.
 */
function commit(log: string, j: Journal, step?: SplitStep): void {
  // Top down: an old `.n` goes up by pieces - 1 names (pieces - 2 when `.1` is among the pieces),
  // past the top it is dropped (as dockerd drops it). A joined `.1` is replaced by piece 1.
  const shift = j.pieces - 1 - (j.joined ? 1 : 0);
  for (let n = j.maxFile - 1; n >= (j.joined ? 2 : 1); n--) {
    const ino = j.olds[n - 1] ?? 0;
    const to = n + shift;
    if (!ino || to === n) continue;
    // With compress, the old file is `.n.gz`: it moves as one.
    const name = inodeAt(rotatedName(log, n)) === ino ? rotatedName : inodeAt(compressedName(log, n)) === ino ? compressedName : undefined;
    if (!name) continue;
    if (to <= j.maxFile - 1) renameSync(name(log, n), name(log, to));
    else rmSync(name(log, n));
    step?.(`old .${n}`);
  }
  for (let i = j.pieces - 1; i >= 0; i--) {
    if (!existsSync(pieceName(log, i))) continue;
    renameSync(pieceName(log, i), i === 0 ? log : rotatedName(log, i));
    step?.(`piece ${i}`);
  }
  fsyncDir(dirname(log));
  rmSync(journalOf(log), { force: true });
  fsyncDir(dirname(log));
}

/**
 * A split a crash cut short: with its journal, every piece is written, so it is carried out;
 * without one, the pieces written so far are dropped (the live file still has every row, and the
 * split is done again). Returns whether there was anything to do.
 */
export function finishSplit(log: string, step?: SplitStep): boolean {
  let j: Journal | undefined;
  try {
    j = JSON.parse(readFileSync(journalOf(log), 'utf8')) as Journal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') rmSync(journalOf(log), { force: true });
  }
  if (j) {
    commit(log, j, step);
    return true;
  }
  const prefix = `${basename(log)}.split.`;
  let found = false;
  for (const f of readdirSync(dirname(log))) {
    if (!f.startsWith(prefix)) continue;
    rmSync(join(dirname(log), f), { force: true });
    found = true;
  }
  return found;
}

/**
 * The newest rotated file when it is plain and past max-size by more than its last row: the
 * writer outran the rotation (a burst faster than a check), and dockerd would have cut it too.
 */
async function overshotFirst(log: string, maxSize: number): Promise<{ fd: Handle; size: number } | undefined> {
  let fd: Handle;
  try {
    fd = await open(rotatedName(log, 1), 'r');
  } catch {
    return undefined;
  }
  const { size } = await fd.stat();
  if (size >= maxSize && (await pieceStarts(fd, size, maxSize, 2)).total >= 2) return { fd, size };
  await fd.close();
  return undefined;
}

/**
 * A live file past max-size that nothing writes any more (conmon has exited) cut as dockerd would
 * have cut it while writing: pieces of max-size at row boundaries, the newest max-file of them kept,
 * the rotated files before them moved up (and dropped past max-file). A `.1` that a late rotation
 * left past max-size is cut with it, as the start of the same stream. The files are read by
 * descriptor and copied a chunk at a time; the pieces are written under names no reader opens, a
 * journal says they are complete, then each takes its name, the live file last. `beforeCommit` runs
 * in the same turn as the renames (a follower still waiting for its first file opens the live one
 * then, so it reads every row of the run). Returns whether the file was cut.
 */
export async function splitOverSize(log: string, maxSize: number, maxFile: number, o: { beforeCommit?: () => void; step?: SplitStep } = {}): Promise<boolean> {
  let live: Handle;
  try {
    live = await open(log, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const first = maxFile > 1 ? await overshotFirst(log, maxSize) : undefined;
  let pieces: number;
  try {
    const st = await live.stat();
    const src: Source = first ? joinedSource(first.fd, first.size, live) : live;
    const size = (first?.size ?? 0) + st.size;
    if (size < maxSize) return false;
    const { starts, total } = await pieceStarts(src, size, maxSize, maxFile);
    if (total < 2) return false;
    pieces = starts.length;
    // Newest first: piece 0 ends at the end of the file.
    for (let i = 0; i < pieces; i++) {
      const start = starts[pieces - 1 - i]!;
      const end = i === 0 ? size : starts[pieces - i]!;
      await copyRange(src, pieceName(log, i), start, end, st.mode & 0o777);
      o.step?.(`write ${i}`);
    }
  } finally {
    await live.close();
    await first?.fd.close();
  }
  const j: Journal = { maxFile, pieces, joined: first !== undefined, olds: Array.from({ length: maxFile - 1 }, (_, k) => inodeAt(rotatedName(log, k + 1)) || inodeAt(compressedName(log, k + 1))) };
  const tmp = `${journalOf(log)}.tmp`;
  writeFileSync(tmp, JSON.stringify(j));
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, journalOf(log));
  fsyncDir(dirname(log));
  o.step?.('journal');
  o.beforeCommit?.();
  commit(log, j, o.step);
  return true;
}
