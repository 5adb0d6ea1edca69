import { isUtf8 } from 'node:buffer';
import { close, type FSWatcher, fstat, fstatSync, open, openSync, read, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogLine } from './format';
import { type FrameOptions, FrameWriter } from './frames';
import { PACKED_HEAD, putPackedHead, splitNano, unpackLines } from './packed';
import { newRowView, type RowView, scanRowAt, scanRowInto } from './row-scan';

/** Bytes read at a time: memory stays bounded by this (plus one row) whatever the log's size. */
const CHUNK = 1024 * 1024;
/** A row longer than this cannot be one our writer made (entries are cut at 16 KiB). */
const MAX_ROW = 8 * 1024 * 1024;
/**
 * A follower of a writer in another process is woken by inotify (fs.watch on the log's folder);
 * this poll only covers a watch that cannot be set up or misses an event.
 */
const POLL_MS = 1000;
/** Tries at listing the files while no rotation happens in between. */
const LISTING_TRIES = 20;

export interface Follow {
  /** Calls `fn` after new rows were written or the writer ended; returns how to stop. */
  onChange(fn: () => void): () => void;
  /** True once nothing more will be written (the process has exited). */
  ended(): boolean;
  /**
   * A writer in this process: calls `fn` synchronously each time it has rotated and opened its
   * new file, so the follower opens that file before a later rotation can take it away.
   * Without it the follower finds rotations by the file's inode and lists the files again.
   */
  onRotate?(fn: () => void): () => void;
}

export interface ReadOptions {
  maxFiles: number;
  /** Last N rows only (counted over both streams, as Docker does); negative means all. */
  tail: number;
  /** Bounds on the entries' time, nanoseconds since 1970; 0n means none. */
  sinceNano: bigint;
  untilNano: bigint;
  /** Keep reading new rows (across rotations) until the writer ends. */
  follow?: Follow;
  /** Yield the client's bytes (frames.ts) of the wanted streams instead of packed entries. */
  frames?: FrameOptions;
}

/** An open log file. A plain fd, not a FileHandle: a writer's rotation hook opens one synchronously. */
interface Source {
  fd: number;
  ino: number;
  size: number;
}

function readAt(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

function closeSource(s: Source): Promise<void> {
  return new Promise((resolve) => close(s.fd, () => resolve()));
}

async function openSource(path: string): Promise<Source | undefined> {
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => open(path, 'r', (err, f) => (err ? reject(err) : resolve(f))));
  } catch (err) {
    // Rotated away between listing and opening, or not written yet.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await new Promise<{ ino: number; size: number }>((resolve, reject) => fstat(fd, (err, x) => (err ? reject(err) : resolve(x))));
    return { fd, ino: st.ino, size: st.size };
  } catch (err) {
    await closeSource({ fd, ino: 0, size: 0 });
    throw err;
  }
}

function openSourceSync(path: string): Source {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    return { fd, ino: st.ino, size: st.size };
  } catch (err) {
    close(fd, () => undefined);
    throw err;
  }
}

async function inodeAt(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The names a log may have, oldest first: `<path>.<n>` ... `<path>.1`, `<path>`. */
function names(path: string, maxFiles: number): string[] {
  const out: string[] = [];
  for (let i = Math.max(1, maxFiles) - 1; i >= 1; i--) out.push(`${path}.${i}`);
  out.push(path);
  return out;
}

/**
 * The log's files not in `seen`, oldest first, opened while no rotation happened: a rotation
 * between opening two names shifts the names, and the file that moved would be skipped (the race
 * a follower lost lines to). A rotation shows as a changed inode under some name, so the names'
 * inodes are compared before and after; `rotations` counts the rotations of a writer in this
 * process, which says the same without a stat.
 */
async function openFiles(path: string, maxFiles: number, seen: Set<number>, rotations: () => number): Promise<{ opened: Source[]; at: number }> {
  const all = names(path, maxFiles);
  for (let attempt = 1; ; attempt++) {
    const r0 = rotations();
    const before = await Promise.all(all.map(inodeAt));
    const opened: Source[] = [];
    try {
      for (let i = 0; i < all.length; i++) {
        const ino = before[i];
        if (ino === undefined || seen.has(ino)) continue;
        const s = await openSource(all[i]!);
        if (s) opened.push(s);
      }
      const after = await Promise.all(all.map(inodeAt));
      const steady = rotations() === r0 && before.every((ino, i) => ino === after[i]) && opened.every((s) => before.includes(s.ino));
      if (steady || attempt === LISTING_TRIES) return { opened, at: r0 };
    } catch (err) {
      for (const s of opened) await closeSource(s);
      throw err;
    }
    for (const s of opened) await closeSource(s);
  }
}

/** Since/until as numbers, compared without a bigint per row. */
interface Bounds {
  sinceSec: number;
  sinceNanos: number;
  untilSec: number;
  untilNanos: number;
}

function bounds(o: ReadOptions): Bounds {
  const s = o.sinceNano > 0n ? splitNano(o.sinceNano) : { sec: -1, nanos: 0 };
  const u = o.untilNano > 0n ? splitNano(o.untilNano) : { sec: Infinity, nanos: 0 };
  return { sinceSec: s.sec, sinceNanos: s.nanos, untilSec: u.sec, untilNanos: u.nanos };
}

/**
 * Cuts a file's bytes into packed entries (see packed.ts) from `pos` on, a chunk at a time; a
 * row that does not parse (torn by a crash) is skipped.
 */
class Rows {
  private carry: Buffer = Buffer.alloc(0);
  private readonly v: RowView = newRowView();
  private readonly frames: FrameWriter | undefined;
  constructor(
    readonly src: Source,
    private pos: number,
    private readonly b: Bounds,
    frames?: FrameOptions,
  ) {
    this.frames = frames && new FrameWriter(frames);
    this.needTime = !frames || b.sinceSec >= 0 || b.untilSec !== Infinity;
  }
  /** Frames need no times; bounds do. */
  private readonly needTime: boolean;

  /** Packed entries completed by the next chunk; `eof` when nothing more was there to read, `past` once a row is past `until`. */
  async next(): Promise<{ packed: Buffer[]; eof: boolean; past: boolean }> {
    // The unfinished row of the last read goes first, so the read lands after it (no concat).
    const carried = this.carry.length;
    const buf = Buffer.allocUnsafe(carried + CHUNK);
    if (carried) this.carry.copy(buf, 0);
    const bytesRead = await readAt(this.src.fd, buf.subarray(carried), CHUNK, this.pos);
    if (bytesRead === 0) return { packed: [], eof: true, past: false };
    this.pos += bytesRead;
    const data = buf.subarray(0, carried + bytesRead);
    const last = data.lastIndexOf(10);
    // One check for the whole chunk of complete rows lets the scan copy bytes as they are.
    const utf8 = last >= 0 && isUtf8(data.subarray(0, last));
    const packed: Buffer[] = [];
    const b = this.b;
    const v = this.v;
    // A json-file row is longer than its packed entry unless JSON.parse had to replace bad
    // bytes; then the entry starts a new buffer.
    const fw = this.frames;
    fw?.reset(Math.max(last + 1, 0));
    let out = Buffer.allocUnsafe(fw ? 0 : Math.max(last + 1, 0));
    let p = 0;
    let start = 0;
    let past = false;
    while (start <= last) {
      const rowStart = start;
      let nl = utf8 ? scanRowAt(data, rowStart, last + 1, v, this.needTime) : -1;
      if (nl < 0) {
        nl = data.indexOf(10, rowStart);
        start = nl + 1;
        if (nl === rowStart) continue;
        try {
          scanRowInto(data, rowStart, nl, utf8, v);
        } catch {
          continue; // torn row
        }
      } else start = nl + 1;
      if (v.sec < b.sinceSec || (v.sec === b.sinceSec && v.nanos < b.sinceNanos)) continue;
      if (v.sec > b.untilSec || (v.sec === b.untilSec && v.nanos > b.untilNanos)) {
        past = true;
        break;
      }
      const len = v.line ? v.line.length : v.to - v.from;
      if (fw) {
        if (!fw.wants(v.stream)) continue;
        if (!fw.fits(v.stream, len)) {
          const done = fw.reset(Math.max(len + 8, data.length - rowStart));
          if (done) packed.push(done);
        }
        fw.head(v.stream);
        const o = fw.out;
        const q0 = fw.p;
        if (v.line) o.set(v.line, q0);
        else if (len < 64) for (let i = v.from, q = q0; i < v.to; i++) o[q++] = data[i]!;
        else data.copy(o, q0, v.from, v.to);
        fw.p = q0 + len;
        continue;
      }
      if (p + PACKED_HEAD + len > out.length) {
        if (p) packed.push(out.subarray(0, p));
        out = Buffer.allocUnsafe(Math.max(PACKED_HEAD + len, data.length - rowStart));
        p = 0;
      }
      putPackedHead(out, p, v.stream, v.sec, v.nanos, len);
      p += PACKED_HEAD;
      // Short lines are copied by hand: Buffer#copy costs more than the bytes below this.
      if (v.line) out.set(v.line, p);
      else if (len < 64) for (let i = v.from, q = p; i < v.to; i++) out[q++] = data[i]!;
      else data.copy(out, p, v.from, v.to);
      p += len;
    }
    if (p) packed.push(out.subarray(0, p));
    const framed = fw?.take();
    if (framed) packed.push(framed);
    if (!past && data.length - start > MAX_ROW) throw new Error(`log entry longer than ${MAX_ROW} bytes in fd ${this.src.fd}`);
    this.carry = past ? Buffer.alloc(0) : data.subarray(start);
    return { packed, eof: false, past };
  }
}

/** Where the last `n` rows start: the index of the file and the offset in it. */
async function tailStart(files: Source[], n: number): Promise<{ idx: number; pos: number }> {
  if (n === 0) return { idx: files.length - 1, pos: files[files.length - 1]!.size };
  let need = n;
  // Small reads first: a short tail of a big log needs only its last few KiB.
  let step = 64 * 1024;
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let i = files.length - 1; i >= 0; i--) {
    const { fd, size } = files[i]!;
    let pos = size;
    while (pos > 0) {
      const len = Math.min(step, pos);
      step = CHUNK;
      pos -= len;
      const bytesRead = await readAt(fd, buf, len, pos);
      if (bytesRead !== len) throw new Error(`log file shrank while reading its tail`);
      for (let j = len - 1; j >= 0; j--) {
        // A newline starts a row unless it ends the file.
        if (buf[j] === 10 && pos + j + 1 < size && --need === 0) return { idx: i, pos: pos + j + 1 };
      }
    }
    if (size > 0 && --need === 0) return { idx: i, pos: 0 };
  }
  return { idx: 0, pos: 0 };
}

/** Resolves on the next change, or after `POLL_MS` (a watch that missed one). */
function waitChange(follow: Follow, watched: { on(fn: () => void): () => void } | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stop();
      unwatch?.();
      clearTimeout(t);
      resolve();
    };
    const stop = follow.onChange(done);
    const unwatch = watched?.on(done);
    const t = setTimeout(done, POLL_MS);
  });
}

/** inotify on the log's folder (rotations create and rename files there), for writers in other processes. */
function watchFolder(path: string): { on(fn: () => void): () => void; close(): void } | undefined {
  const fns = new Set<() => void>();
  let w: FSWatcher;
  try {
    w = watch(dirname(path), { persistent: false }, () => {
      for (const fn of [...fns]) fn();
    });
  } catch {
    return undefined;
  }
  w.on('error', () => undefined);
  return {
    on: (fn) => {
      fns.add(fn);
      return () => fns.delete(fn);
    },
    close: () => w.close(),
  };
}

/**
 * Docker's json-file log, read as packed entries (see packed.ts): every kept file oldest first,
 * in chunks (memory bounded whatever the size), `tail` found by reading backwards from the end,
 * and with `follow` new rows as they come, across rotations, until the writer ends. Opening
 * (files, tail) happens before this resolves, so a log that cannot be read fails here, before
 * any output; later I/O errors are thrown by the iterator, never taken for the end of the log.
 * A row that does not parse (torn by a crash) is skipped.
 */
export async function openJsonLogPacked(path: string, o: ReadOptions): Promise<AsyncGenerator<Buffer>> {
  // Rotations of a writer in this process are caught from before the listing on, so none can
  // fall between the listing and the follow.
  const rotated: { s: Source; seq: number }[] = [];
  let rotations = 0;
  let failure: unknown;
  const stopRotate = o.follow?.onRotate?.(() => {
    rotations++;
    // The writer has just opened its new file: the follower takes it before another rotation can.
    try {
      rotated.push({ s: openSourceSync(path), seq: rotations });
    } catch (err) {
      failure ??= err;
    }
  });
  const sources: Source[] = [];
  try {
    const { opened, at } = await openFiles(path, o.maxFiles, new Set(), () => rotations);
    sources.push(...opened);
    // Rotations up to the listing that held are in it, or were rotated out before it.
    for (const r of rotated.filter((x) => x.seq <= at)) {
      rotated.splice(rotated.indexOf(r), 1);
      await closeSource(r.s);
    }
    const start = sources.length && o.tail >= 0 ? await tailStart(sources, o.tail) : { idx: 0, pos: 0 };
    const inProc = stopRotate ? { rotated, failure: () => failure, stop: stopRotate } : undefined;
    return entries(path, o, sources, start, inProc);
  } catch (err) {
    stopRotate?.();
    for (const r of rotated) await closeSource(r.s);
    for (const s of sources) await closeSource(s);
    throw err;
  }
}

/** The same log as `openJsonLogPacked`, as LogLine batches (each line a view of its batch). */
export async function openJsonLog(path: string, o: ReadOptions): Promise<AsyncGenerator<LogLine[]>> {
  const packed = await openJsonLogPacked(path, o);
  return (async function* lines() {
    try {
      for await (const b of packed) yield unpackLines(b);
    } finally {
      await packed.return(undefined);
    }
  })();
}

interface InProcess {
  /** Files the writer opened after rotating, in order, not taken yet. */
  rotated: { s: Source; seq: number }[];
  failure(): unknown;
  stop(): void;
}

async function* entries(path: string, o: ReadOptions, sources: Source[], start: { idx: number; pos: number }, inProc: InProcess | undefined): AsyncGenerator<Buffer> {
  const watched = o.follow && !inProc ? watchFolder(path) : undefined;
  const b = bounds(o);
  // Newer files found, not read yet: read once the current one is drained.
  let pending: Source[] = [];
  try {
    if (!sources.length && !o.follow) return;
    let idx = start.idx;
    const seen = new Set(sources.map((s) => s.ino));
    let drained = false;
    let rows: Rows | undefined = sources[idx] ? new Rows(sources[idx]!, start.pos, b, o.frames) : undefined;
    for (;;) {
      const wasEnded = o.follow?.ended() ?? true;
      const got = rows ? await rows.next() : { packed: [], eof: true, past: false };
      for (const p of got.packed) yield p;
      if (got.past) return;
      if (!got.eof) continue;
      if (rows && idx < sources.length - 1) {
        rows = new Rows(sources[++idx]!, 0, b, o.frames);
        continue;
      }
      if (!o.follow) return;
      for (const s of inProc ? await takeRotated(inProc, seen) : pending.length ? [] : await listNewer(path, o.maxFiles, rows, seen)) {
        seen.add(s.ino);
        pending.push(s);
      }
      if (pending.length) {
        if (rows && !drained) {
          // One more pass for rows written to our file before the writer moved on: once it
          // has, what this read finds is all there will be.
          drained = true;
          continue;
        }
        drained = false;
        sources.push(...pending);
        pending = [];
        // A follower far behind a writer keeps a few rotated files open, not every one: the
        // oldest unread go, as the writer's own rotation would have removed them.
        const keep = Math.max(2, o.maxFiles) + 2;
        const first = rows ? idx + 1 : 0;
        while (sources.length - first > keep) {
          const [gone] = sources.splice(first, 1);
          await closeSource(gone!);
        }
        idx = first;
        rows = new Rows(sources[idx]!, 0, b, o.frames);
        continue;
      }
      if (wasEnded) return;
      await waitChange(o.follow, watched);
    }
  } finally {
    inProc?.stop();
    watched?.close();
    for (const r of inProc?.rotated.splice(0) ?? []) await closeSource(r.s);
    for (const s of [...pending, ...sources]) await closeSource(s);
  }
}

/** The files a writer in this process rotated to since the last call. */
async function takeRotated(inProc: InProcess, seen: Set<number>): Promise<Source[]> {
  const err = inProc.failure();
  if (err) throw err;
  const out: Source[] = [];
  for (const { s } of inProc.rotated.splice(0)) {
    if (seen.has(s.ino)) await closeSource(s);
    else out.push(s);
  }
  return out;
}

/**
 * At the end of the newest file we know of: has a writer in another process moved on to a new
 * one? Every file newer than ours that we have not read, oldest first (a file rotated out of
 * reach while we were away is gone, as in Docker).
 */
async function listNewer(path: string, maxFiles: number, rows: Rows | undefined, seen: Set<number>): Promise<Source[]> {
  const cur = await inodeAt(path);
  if (cur === undefined || cur === rows?.src.ino) return [];
  return (await openFiles(path, maxFiles, seen, () => 0)).opened;
}
