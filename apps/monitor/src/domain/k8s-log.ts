import { open, stat } from 'node:fs/promises';
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
  /** Keep reading new rows until `ended()` is true, then read what is left and stop. */
  follow?: { ended: () => boolean };
  /** Batches of the client's bytes (json-log frames.ts) instead of LogLines, when no time bounds apply. */
  frames?: FrameOptions;
}

const SPACE = 0x20;
const NL = 0x0a;

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
  const a = row.indexOf(SPACE);
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

/**
 * The complete rows of `data` up to `last` (its last newline) straight into frames, as
 * `parseK8sRow` would read them but with no time parsed and no object per row: with no bounds
 * and no time prefix nothing needs the time. Rows that do not parse are skipped, as there.
 */
function framesOfRows(data: Buffer, last: number, w: FrameWriter): Buffer | undefined {
  w.reset(last + 1);
  for (let start = 0; start <= last; ) {
    const nl = data.indexOf(NL, start);
    const a = data.indexOf(SPACE, start);
    const b = a < 0 || a > nl ? -1 : data.indexOf(SPACE, a + 1);
    start = nl + 1;
    if (b < 0 || b > nl || b - a !== 7) continue;
    // "stdout" / "stderr"
    if (data[a + 1] !== 0x73 || data[a + 2] !== 0x74 || data[a + 3] !== 0x64) continue;
    const stream = data[a + 4] === 0x6f && data[a + 5] === 0x75 && data[a + 6] === 0x74 ? 1 : data[a + 4] === 0x65 && data[a + 5] === 0x72 && data[a + 6] === 0x72 ? 2 : 0;
    const tag = b + 1 < nl ? data[b + 1] : -1;
    if (!stream || (tag !== 0x46 && tag !== 0x50)) continue;
    if (!w.wants(stream)) continue;
    // An F row's line keeps its newline (one is added to an empty one); a P row is a piece without.
    const from = b + 3;
    const to = tag === 0x46 ? nl + 1 : nl;
    const len = from < to ? to - from : tag === 0x46 ? 1 : 0;
    w.head(stream);
    if (from < to) data.copy(w.out, w.p, from, to);
    else if (len) w.out[w.p] = NL;
    w.p += len;
  }
  return w.take();
}

/** Where the last `n` rows begin, reading back from the end a chunk at a time. */
async function tailOffset(path: string, n: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    if (n === 0) return pos;
    let seen = 0;
    const buf = Buffer.alloc(64 * 1024);
    while (pos > 0) {
      const len = Math.min(buf.length, pos);
      pos -= len;
      await fh.read(buf, 0, len, pos);
      for (let i = len - 1; i >= 0; i--) {
        // The newline that ends the file closes the last row; every other one ends the row before a start.
        if (buf[i] !== NL || pos + i === size - 1) continue;
        if (++seen === n) return pos + i + 1;
      }
    }
    return 0;
  } finally {
    await fh.close();
  }
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function absentIsEmpty(err: NodeJS.ErrnoException): number {
  if (err.code === 'ENOENT') return 0;
  throw err;
}

/** Fails as reading would (EISDIR, EACCES), so the caller gets the error before any entry; absent is fine. */
async function readable(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await fh.read(Buffer.alloc(1), 0, 1, 0);
  } finally {
    await fh.close();
  }
}

/** Waits until the file changes (inotify) or a poll interval passes. */
function changed(path: string): Promise<void> {
  return new Promise((resolve) => {
    let w: ReturnType<typeof watch> | undefined;
    const done = () => {
      clearTimeout(t);
      w?.close();
      resolve();
    };
    const t = setTimeout(done, POLL_MS);
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
  await readable(path);
  let pos = o.fromOffset ?? (o.tail >= 0 ? await tailOffset(path, o.tail).catch(absentIsEmpty) : 0);
  const keep = (l: LogLine) => (o.sinceNano === 0n || l.timeNano >= o.sinceNano) && (o.untilNano === 0n || l.timeNano <= o.untilNano);
  const fw = o.frames && o.sinceNano === 0n && o.untilNano === 0n ? new FrameWriter(o.frames) : undefined;
  async function* gen(): AsyncGenerator<Buffer | LogLine[]> {
    let carry = Buffer.alloc(0);
    for (;;) {
      const ended = o.follow ? o.follow.ended() : true;
      const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      let progressed = false;
      try {
        for (;;) {
          if (!fh) break;
          // A fresh buffer each read: the entries are views into it, not copies.
          const buf = Buffer.allocUnsafe(CHUNK);
          const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
          if (bytesRead === 0) break;
          progressed = true;
          pos += bytesRead;
          let data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
          if (fw) {
            const last = data.lastIndexOf(NL);
            const framed = last >= 0 ? framesOfRows(data, last, fw) : undefined;
            data = data.subarray(last + 1);
            carry = data.length > MAX_ROW ? Buffer.alloc(0) : Buffer.from(data);
            if (framed) yield framed;
            continue;
          }
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
      } finally {
        await fh?.close();
      }
      if (!o.follow || ended) return;
      if (!progressed) await changed(path);
    }
  }
  return gen();
}
