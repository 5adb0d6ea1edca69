import { decodeEntry, type LogLine } from './format';
import { splitNano, STREAM_CODE } from './packed';

/**
 * Reading a big log was mostly JSON.parse, a string per row and a Buffer back from it. Rows in
 * the layout json-file writes (`{"log":"…","stream":"…","time":"…"}`, ours and dockerd's) are
 * scanned as bytes here instead; any other row (extra fields, odd spacing, bad escapes) goes
 * through `decodeEntry`, so the scan only ever changes speed, never the result.
 */

const LOG_KEY = Buffer.from('{"log":"');
const STREAM_KEY = Buffer.from('","stream":"');
const TIME_KEY = Buffer.from('","time":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function startsWithAt(buf: Buffer, pos: number, key: Buffer): boolean {
  if (pos + key.length > buf.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[pos + i] !== key[i]) return false;
  return true;
}

function hex4(buf: Buffer, p: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = buf[p + i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

function putUtf8(out: Buffer, o: number, cp: number): number {
  if (cp < 0x80) out[o++] = cp;
  else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/** The byte each one-letter escape stands for, by the letter; 0 for none (a table: an object lookup per escape showed in profiles). */
const SIMPLE = new Uint8Array(256);
for (const [k, v] of [[0x22, 0x22], [0x5c, 0x5c], [0x2f, 0x2f], [0x62, 0x08], [0x66, 0x0c], [0x6e, 0x0a], [0x72, 0x0d], [0x74, 0x09]] as const) SIMPLE[k] = v;

/** Set by `findClose`: whether the string it found has escapes (a result object per row cost more than the scan). */
let foundEscape = false;

/**
 * Where the JSON string starting at `p` (just after its opening quote) closes, before `end`
 * (`foundEscape` says whether it has escapes); -1 when it is not a well-formed string (then the
 * caller falls back to JSON.parse, which says why). Reads only, so a row that fails later is
 * left intact.
 */
function findClose(buf: Buffer, p: number, end: number): number {
  foundEscape = false;
  for (let q = p; q < end; ) {
    const c = buf[q]!;
    if (c === QUOTE) return q;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) {
      q++;
      continue;
    }
    foundEscape = true;
    if (q + 1 >= end) return -1;
    const e = buf[q + 1]!;
    if (e === 0x75) {
      if (q + 6 > end || hex4(buf, q + 2) < 0) return -1;
      q += 6;
    } else if (SIMPLE[e]) q += 2;
    else return -1;
  }
  return -1;
}

/**
 * Unescapes the well-formed JSON string text at buf[p, close) in place (the result is never
 * longer than the text, so no copy and no allocation) and returns the end of the UTF-8 bytes.
 * Lone surrogates become U+FFFD, as JSON.parse then Buffer.from gives.
 */
export function unescapeInPlace(buf: Buffer, p: number, close: number): number {
  let q = p;
  while (q < close && buf[q] !== BACKSLASH) q++;
  let o = q;
  while (q < close) {
    const c = buf[q]!;
    if (c !== BACKSLASH) {
      buf[o++] = c;
      q++;
      continue;
    }
    const e = buf[q + 1]!;
    if (e !== 0x75) {
      buf[o++] = SIMPLE[e]!;
      q += 2;
      continue;
    }
    let cp = hex4(buf, q + 2);
    q += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const lo = q + 6 <= close && buf[q] === BACKSLASH && buf[q + 1] === 0x75 ? hex4(buf, q + 2) : -1;
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        q += 6;
      } else cp = 0xfffd;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) cp = 0xfffd;
    o = putUtf8(buf, o, cp);
  }
  return o;
}

let cachedSecond = Buffer.alloc(19);
let cachedSecondSec = -1;

/**
 * Seconds and nanoseconds of `YYYY-MM-DDTHH:MM:SS.fffffffffZ` at buf[p, end) into `v`; false for
 * any other form. Numbers, not a bigint: a bigint per row was a good part of reading a log.
 */
function scanTime(buf: Buffer, p: number, end: number, v: RowView): boolean {
  if (end - p < 22 || buf[p + 19] !== 0x2e || buf[end - 1] !== 0x5a || end - p > 30) return false;
  let frac = 0;
  const digits = end - 1 - (p + 20);
  for (let i = p + 20; i < end - 1; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return false;
    frac = frac * 10 + d;
  }
  for (let i = digits; i < 9; i++) frac *= 10;
  // Rows of one second share their date: parse it once.
  let same = cachedSecondSec >= 0;
  for (let i = 0; same && i < 19; i++) same = buf[p + i] === cachedSecond[i];
  if (!same) {
    const ms = Date.parse(`${buf.toString('latin1', p, p + 19)}Z`);
    if (Number.isNaN(ms) || ms < 0) return false;
    cachedSecond = Buffer.from(buf.subarray(p, p + 19));
    cachedSecondSec = ms / 1000;
  }
  v.sec = cachedSecondSec;
  v.nanos = frac;
  return true;
}

/**
 * A row as the scan found it: its stream (1 stdout, 2 stderr), time, and bytes, either
 * buf[from, to) of the scanned buffer or `line` when the row went through JSON.parse.
 */
export interface RowView {
  stream: number;
  sec: number;
  nanos: number;
  from: number;
  to: number;
  line: Buffer | undefined;
}

export function newRowView(): RowView {
  return { stream: 0, sec: 0, nanos: 0, from: 0, to: 0, line: undefined };
}

/**
 * The row starting at `start` in json-file's own layout, scanned in one pass up to and including
 * its newline (before `limit`) into `v`; returns the newline's index, or -1 when the row is laid
 * out otherwise (the caller then finds its end and parses it). Finding the row's end as part of
 * the scan saves a search per row. Without `needTime` the time is checked to be a plain string
 * but not parsed (v.sec and v.nanos are left as they were): a reader with no bounds that sends
 * no times needs none, and a time JSON.parse would take is taken either way.
 */
export function scanRowAt(buf: Buffer, start: number, limit: number, v: RowView, needTime = true): number {
  if (!startsWithAt(buf, start, LOG_KEY)) return -1;
  const from = start + LOG_KEY.length;
  // A JSON string has no raw control bytes, so this stops at the row's newline at the latest.
  const close0 = findClose(buf, from, limit);
  const escaped = foundEscape;
  if (close0 < 0 || !startsWithAt(buf, close0, STREAM_KEY)) return -1;
  const s = close0 + STREAM_KEY.length;
  // "stdout" / "stderr"
  if (s + 6 > limit || buf[s] !== 0x73 || buf[s + 1] !== 0x74 || buf[s + 2] !== 0x64) return -1;
  const stream = buf[s + 3] === 0x6f && buf[s + 4] === 0x75 && buf[s + 5] === 0x74 ? 1 : buf[s + 3] === 0x65 && buf[s + 4] === 0x72 && buf[s + 5] === 0x72 ? 2 : 0;
  if (!stream || !startsWithAt(buf, s + 6, TIME_KEY)) return -1;
  const t = s + 6 + TIME_KEY.length;
  let tq = t;
  while (tq < limit && tq - t <= 30 && buf[tq] !== QUOTE && buf[tq] !== BACKSLASH && buf[tq]! >= 0x20) tq++;
  if (buf[tq] !== QUOTE || buf[tq + 1] !== 0x7d) return -1;
  let nl = tq + 2;
  while (nl < limit && (buf[nl] === 0x0d || buf[nl] === 0x20)) nl++;
  if (nl >= limit || buf[nl] !== 10) return -1;
  if (needTime && !scanTime(buf, t, tq, v)) return -1;
  // Last, once nothing can fail: the row is only changed when it is taken.
  v.stream = stream;
  v.from = from;
  v.to = escaped ? unescapeInPlace(buf, from, close0) : close0;
  v.line = undefined;
  return nl;
}

/**
 * One json-file row at buf[start, end) (newline excluded; a trailing CR is JSON whitespace) into
 * `v`; throws on anything that is not a json-file entry. `utf8` says the bytes are known to be
 * valid UTF-8; when they may not be, the row is decoded as text first, as JSON.parse needs. The
 * row's bytes in `buf` may have been unescaped in place.
 */
export function scanRowInto(buf: Buffer, start: number, end: number, utf8: boolean, v: RowView): void {
  // The one-pass scan needs the newline; a row handed over without one is parsed.
  if (utf8 && buf[end] === 10 && scanRowAt(buf, start, end + 1, v) === end) return;
  const l = decodeEntry(buf.toString('utf8', start, end));
  const t = splitNano(l.timeNano);
  v.stream = STREAM_CODE[l.stream];
  v.sec = t.sec;
  v.nanos = t.nanos;
  v.line = l.line;
}

/** One json-file row as a LogLine (see `scanRowInto`); its line may be a view of `buf`. */
export function decodeRow(buf: Buffer, start: number, end: number, utf8: boolean): LogLine {
  const v = newRowView();
  scanRowInto(buf, start, end, utf8, v);
  return { stream: v.stream === 2 ? 'stderr' : 'stdout', line: v.line ?? buf.subarray(v.from, v.to), timeNano: BigInt(v.sec) * 1_000_000_000n + BigInt(v.nanos) };
}
