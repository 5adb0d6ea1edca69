import { type FileHandle, open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';
import { type FrameOptions, FrameWriter, type LogLine, parseRfc3339Nano, type StreamName } from '@berth/json-log';

const NEWLINE = Buffer.from('\n');

/** Bytes read at a time: memory stays bounded by this (plus one row) whatever the log's size. */
const CHUNK = 1024 * 1024;
/** conmon cuts rows at its buffer size; anything much longer is not one of its rows. */
const MAX_ROW = 1024 * 1024;
/** A follower also polls this often (conmon writes from another process; inotify can miss a rename). */
const POLL_MS = 200;

export interface K8sReadOptions {
  /** Last N rows only (counted over both streams, as Docker counts entries); negative means all. */
  tail: number;
  sinceNano: bigint;
  untilNano: bigint;
  /** Start at this byte offset instead (a live attach reads only what comes after it). */
  fromOffset?: number;
  /**
   * Keep reading new rows until `ended()` is true, then read what is left and stop. `onEnd`, when
   * given, registers a call for the moment `ended()` turns true (returns its removal), so a
   * follower waiting for more rows wakes then instead of at its next poll.
   */
  follow?: { ended: () => boolean; onEnd?: (wake: () => void) => () => void };
  /** Batches of the client's bytes (json-log frames.ts) instead of LogLines, when no time bounds apply. */
  frames?: FrameOptions;
}

const SPACE = 0x20;
const NL = 0x0a;

/** conmon's time, `2026-12-01T14:16:47.686204285+00:00`: always nine digits of fraction. */
const TIME_WIDTH = 35;

/**
 * Where the time of the row at `start` ends (the space after it), or minus the next row's
 * start when a newline comes first; `end` is a newline (or the end of `data`), so the scan stops.
 * conmon writes its times at one width, so a row whose byte there is a space and which has a
 * time's punctuation (T, the fraction's dot, the offset's colon) is taken as one of conmon's,
 * without looking at every byte: the other rows are scanned for their first space. Both
 * readings of a row (entries and frames) use this. A newline inside the span looked past would
 * take a row shorter than a time followed by another that is not conmon's either (no row of
 * conmon's has a space before its byte 35): not a log conmon writes, even cut short by a crash.
 */
function timeEnd(data: Buffer, start: number, end: number): number {
  let a = start + TIME_WIDTH;
  if (a < end && data[a] === SPACE && data[start + 10] === 0x54 && data[start + 19] === 0x2e && data[start + 32] === 0x3a) return a;
  a = start;
  let c = data[a];
  while (c !== SPACE && c !== NL && a < end) c = data[++a];
  return c === SPACE ? a : -(a + 1);
}

/**
 * One k8s-file row (`<RFC3339 time> <stdout|stderr> <F|P> <bytes>`) as a json-file entry. A `P`
 * row is a piece of a longer line: it stays its own entry without a newline, as Docker's
 * json-file keeps the 16 KiB pieces of a long line, so a line of any length costs one row of
 * memory and `docker logs` prints the same bytes.
 */
let cachedKey = '';
let cachedNs = 0n;

/**
 * conmon's times (`2026-12-01T14:16:47.686204285+00:00`): rows of one second share everything but
 * the fraction, so the date part is parsed once per second (a big log is mostly this).
 */
export function parseK8sTime(s: string): bigint {
  const dot = s.indexOf('.', 19);
  if (dot === 19) {
    let end = 20;
    while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
    const key = s.slice(0, 19) + s.slice(end);
    if (key !== cachedKey) {
      const ms = Date.parse(`${s.slice(0, 19)}${s.slice(end) || 'Z'}`);
      if (Number.isNaN(ms)) return parseRfc3339Nano(s);
      cachedKey = key;
      cachedNs = BigInt(ms) * 1_000_000n;
    }
    return cachedNs + BigInt(s.slice(20, Math.min(end, 29)).padEnd(9, '0'));
  }
  return parseRfc3339Nano(s);
}

/** `row` may end with its newline (kept as the entry's, for an F row); the entry's bytes are views into it. */
export function parseK8sRow(row: Buffer): LogLine | undefined {
  const a = timeEnd(row, 0, row[row.length - 1] === NL ? row.length - 1 : row.length);
  const b = a < 0 ? -1 : row.indexOf(SPACE, a + 1);
  if (b < 0) return undefined;
  const stream = row.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = row[b + 1];
  const full = tag === 0x46; // F
  if (!full && tag !== 0x50) return undefined;
  const nl = row[row.length - 1] === NL ? 1 : 0;
  const end = row.length - nl;
  // A row with no content has no space after its tag.
  const body = end > b + 3 ? row.subarray(b + 3, end) : Buffer.alloc(0);
  const timeNano = parseK8sTime(row.toString('latin1', 0, a));
  const line = !full ? body : nl && body.length ? row.subarray(b + 3) : Buffer.concat([body, NEWLINE]);
  return { stream: stream as StreamName, line, timeNano };
}

/** Content bytes copied by hand while looking for the newline; past this, memchr and one copy. */
const SHORT_ROW = 128;

/**
 * The complete rows of `data` up to `last` (its last newline) straight into frames, as
 * `parseK8sRow` would read them but with no time parsed and no object per row: with no bounds
 * and no time prefix nothing needs the time. Rows that do not parse are skipped, as there.
 * One pass over each row in JS: a native call (indexOf, copy) costs more than a short row's bytes.
 */
function framesOfRows(data: Buffer, last: number, w: FrameWriter): Buffer | undefined {
  w.reset(last + 1);
  const out = w.out;
  for (let start = 0; start <= last; ) {
    const a = timeEnd(data, start, last);
    if (a < 0) {
      start = -a;
      continue;
    }
    // "stdout " / "stderr " then the tag: none of these bytes is a newline, so all are in the row.
    const stream =
      data[a + 1] === 0x73 && data[a + 2] === 0x74 && data[a + 3] === 0x64 && data[a + 7] === SPACE
        ? data[a + 4] === 0x6f && data[a + 5] === 0x75 && data[a + 6] === 0x74
          ? 1
          : data[a + 4] === 0x65 && data[a + 5] === 0x72 && data[a + 6] === 0x72
            ? 2
            : 0
        : 0;
    const tag = stream ? data[a + 8] : -1;
    if ((tag !== 0x46 && tag !== 0x50) || !w.wants(stream)) {
      start = data.indexOf(NL, a) + 1;
      continue;
    }
    // An F row's line keeps its newline (one is added to an empty one); a P row is a piece
    // without. The byte after the tag is the separator, whatever it is, unless the row ends there.
    w.head(stream);
    let q = w.p;
    let i = a + 9;
    if (data[i] !== NL) {
      i++;
      const stop = Math.min(i + SHORT_ROW, last);
      let c: number;
      while (i < stop && (c = data[i]!) !== NL) {
        out[q++] = c;
        i++;
      }
      if (data[i] !== NL) {
        const nl = data.indexOf(NL, i);
        data.copy(out, q, i, nl);
        q += nl - i;
        i = nl;
      }
    }
    if (tag === 0x46) out[q++] = NL;
    w.p = q;
    start = i + 1;
  }
  return w.take();
}

/**
 * Where the last `n` lines of the open file begin, reading back from its end a chunk at a time.
 * A line is what Docker's `--tail` counts: conmon writes one in several rows when it reads it in
 * pieces (`P` rows, then an `F` row), which happens under load even to short lines, so only `F`
 * rows end one; trailing `P` rows (a line still being written) count as one line. `counted`, when
 * given, gets how many lines that is (fewer than `n` when the file has fewer). With `continues`
 * (a rotated file with a newer one after it) trailing `P` rows are the head of a line the newer
 * file ends and has counted: they are taken, not counted, so `n` 0 gives just them.
 */
export async function tailOffset(fh: FileHandle, n: number, counted?: { rows: number }, continues = false): Promise<number> {
  const size = (await fh.stat()).size;
  if (counted) counted.rows = 0;
  if ((n === 0 && !continues) || size === 0) return size;
  const buf = Buffer.alloc(64 * 1024);
  const head = Buffer.alloc(HEAD_BYTES);
  let pos = size;
  let len = 0;
  /** Whether the row starting at `at` is a full (`F`) one: from the chunk in hand, else one small read. */
  const full = async (at: number): Promise<boolean> => {
    if (at >= pos && at + HEAD_BYTES <= pos + len) return rowIsFull(buf, at - pos, pos + len - at);
    const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, at);
    return rowIsFull(head, 0, bytesRead);
  };
  let target = -1; // F rows to pass: n, plus one when the last row is F (its line is among the n)
  let fulls = 0;
  let lastPartial = false;
  let rowEnd = size - 1; // the newline (or last byte) of the row whose start is looked for
  /** The row [start, rowEnd] is known: counts it; the offset when the n lines begin after it. */
  const row = async (start: number): Promise<number | undefined> => {
    const f = await full(start);
    if (target < 0) {
      lastPartial = !f;
      target = f || continues ? n + 1 : n;
    }
    if (f && ++fulls === target) return rowEnd + 1;
    rowEnd = start - 1;
    return undefined;
  };
  while (pos > 0) {
    len = Math.min(buf.length, pos);
    pos -= len;
    await fh.read(buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] !== NL || pos + i >= rowEnd) continue;
      const at = await row(pos + i + 1);
      if (at !== undefined) {
        if (counted) counted.rows = n;
        return at;
      }
    }
  }
  // The first row has no newline before it.
  const at = await row(0);
  if (counted) counted.rows = at !== undefined ? n : fulls + (lastPartial && !continues ? 1 : 0);
  return at ?? 0;
}

/** Enough of a row's start for its time, stream and tag. */
const HEAD_BYTES = 96;

/** `TIME STREAM TAG …`: a row whose tag is not `P` ends a line. */
function rowIsFull(b: Buffer, from: number, len: number): boolean {
  const end = from + len;
  const s1 = b.indexOf(0x20, from);
  if (s1 < 0 || s1 >= end) return true;
  const s2 = b.indexOf(0x20, s1 + 1);
  if (s2 < 0 || s2 + 1 >= end) return true;
  return b[s2 + 1] !== 0x50;
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function openOrAbsent(path: string): Promise<FileHandle | undefined> {
  return open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/** Waits until the file changes (inotify), the follow ends or a poll interval passes. */
function changed(path: string, follow: NonNullable<K8sReadOptions['follow']>): Promise<void> {
  return new Promise((resolve) => {
    let w: ReturnType<typeof watch> | undefined;
    let off: (() => void) | undefined;
    const done = () => {
      clearTimeout(t);
      w?.close();
      off?.();
      resolve();
    };
    const t = setTimeout(done, POLL_MS);
    off = follow.onEnd?.(done);
    // It may have ended while the last read was in flight.
    if (follow.onEnd && follow.ended()) return done();
    try {
      w = watch(path, done);
      w.on('error', done);
    } catch {
      // not there yet: the poll covers it
    }
  });
}

/**
 * A conmon k8s-file log as json-file entries, in batches of one read each. Rejects at open when
 * the log cannot be read (a missing log is an empty one: the container has not written yet).
 */
export async function openK8sLog(path: string, o: K8sReadOptions & { frames?: undefined }): Promise<AsyncGenerator<LogLine[]>>;
export async function openK8sLog(path: string, o: K8sReadOptions): Promise<AsyncGenerator<Buffer | LogLine[]>>;
export async function openK8sLog(path: string, o: K8sReadOptions): Promise<AsyncGenerator<Buffer | LogLine[]>> {
  // One open and one read before the first row is sent, each a trip to the thread pool (a
  // short `--tail` of a big log is mostly these): the read that fails on a directory or an
  // unreadable file is the first read of the log itself, so the call still fails before any
  // entry; a missing log is an empty one (the container has not written yet).
  let fh = await openOrAbsent(path);
  let pos = 0;
  let first: { buffer: Buffer; bytesRead: number } | undefined;
  const fw = o.frames && o.sinceNano === 0n && o.untilNano === 0n ? new FrameWriter(o.frames) : undefined;
  // Frames are copies, so one buffer serves every read (room for a held row and a chunk): the
  // services' malloc settings give each fresh buffer over 128 KiB its own mapping, and its pages
  // faulted in and zeroed cost more than the read (docs/decisions.md). Entries are views: a
  // fresh buffer each read there.
  const reused = fw ? Buffer.allocUnsafe(MAX_ROW + CHUNK) : undefined;
  try {
    pos = o.fromOffset ?? (o.tail >= 0 && fh ? await tailOffset(fh, o.tail) : 0);
    if (fh) first = await fh.read(reused ?? Buffer.allocUnsafe(CHUNK), 0, CHUNK, pos);
  } catch (err) {
    await fh?.close();
    throw err;
  }
  const keep = (l: LogLine) => (o.sinceNano === 0n || l.timeNano >= o.sinceNano) && (o.untilNano === 0n || l.timeNano <= o.untilNano);
  async function* gen(): AsyncGenerator<Buffer | LogLine[]> {
    let carry = Buffer.alloc(0);
    try {
      for (;;) {
        const ended = o.follow ? o.follow.ended() : true;
        fh ??= await openOrAbsent(path);
        let progressed = false;
        try {
          for (;;) {
            if (!fh) break;
            // A fresh buffer each read: the entries are views into it, not copies. The read
            // lands after the unfinished row of the last one, so no chunk is copied to join it.
            const held = carry.length;
            const into = first ? undefined : (reused ?? Buffer.allocUnsafe(held + CHUNK));
            if (into && held) carry.copy(into, 0);
            const { buffer: buf, bytesRead } = first ?? (await fh.read(into!, held, CHUNK, pos));
            first = undefined;
            if (bytesRead === 0) break;
            progressed = true;
            pos += bytesRead;
            let data = buf.subarray(0, (into ? held : 0) + bytesRead);
            if (fw) {
              const last = data.lastIndexOf(NL);
              const framed = last >= 0 ? framesOfRows(data, last, fw) : undefined;
              data = data.subarray(last + 1);
              // Its own bytes: the next read lands where they are.
              carry = data.length > MAX_ROW ? Buffer.alloc(0) : Buffer.from(data);
              if (framed) yield framed;
            } else {
              const out: LogLine[] = [];
              let start = 0;
              for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, start)) {
                const l = parseK8sRow(data.subarray(start, nl + 1));
                if (l && keep(l)) out.push(l);
                start = nl + 1;
              }
              data = data.subarray(start);
              // A row without its newline yet waits for the next read.
              carry = data.length > MAX_ROW ? Buffer.alloc(0) : Buffer.from(data);
              if (out.length) yield out;
            }
            // A short read is the end of the file for now: no read more to learn it.
            if (bytesRead < CHUNK) break;
          }
        } finally {
          await fh?.close();
          fh = undefined;
        }
        if (!o.follow || ended) return;
        if (!progressed) await changed(path, o.follow);
      }
    } finally {
      await fh?.close();
    }
  }
  return gen();
}
