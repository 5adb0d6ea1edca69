import { decodeEntry, type LogLine } from './format';

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

const SIMPLE: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

/**
 * Where the JSON string starting at `p` (just after its opening quote) closes, before `end`,
 * and whether it has escapes; -1 when it is not a well-formed string (then the caller falls
 * back to JSON.parse, which says why). Reads only, so a row that fails later is left intact.
 */
function findClose(buf: Buffer, p: number, end: number): { close: number; escaped: boolean } {
  let escaped = false;
  for (let q = p; q < end; ) {
    const c = buf[q]!;
    if (c === QUOTE) return { close: q, escaped };
    if (c < 0x20) break;
    if (c !== BACKSLASH) {
      q++;
      continue;
    }
    escaped = true;
    const e = buf[q + 1]!;
    if (q + 1 >= end) break;
    if (e === 0x75) {
      if (q + 6 > end || hex4(buf, q + 2) < 0) break;
      q += 6;
    } else if (SIMPLE[e] !== undefined) q += 2;
    else break;
  }
  return { close: -1, escaped };
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
let cachedSecondNs = -1n;

/** Nanoseconds of `YYYY-MM-DDTHH:MM:SS.fffffffffZ` at buf[p, end); undefined for any other form. */
function scanTime(buf: Buffer, p: number, end: number): bigint | undefined {
  if (end - p < 22 || buf[p + 19] !== 0x2e || buf[end - 1] !== 0x5a || end - p > 30) return undefined;
  let frac = 0;
  const digits = end - 1 - (p + 20);
  for (let i = p + 20; i < end - 1; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    frac = frac * 10 + d;
  }
  for (let i = digits; i < 9; i++) frac *= 10;
  // Rows of one second share their date: parse it once.
  let same = cachedSecondNs >= 0n;
  for (let i = 0; same && i < 19; i++) same = buf[p + i] === cachedSecond[i];
  if (!same) {
    const ms = Date.parse(`${buf.toString('latin1', p, p + 19)}Z`);
    if (Number.isNaN(ms)) return undefined;
    cachedSecond = Buffer.from(buf.subarray(p, p + 19));
    cachedSecondNs = BigInt(ms) * 1_000_000n;
  }
  return cachedSecondNs + BigInt(frac);
}

function scanRow(buf: Buffer, start: number, end: number): LogLine | undefined {
  if (!startsWithAt(buf, start, LOG_KEY)) return undefined;
  const from = start + LOG_KEY.length;
  const log = findClose(buf, from, end);
  if (log.close < 0 || !startsWithAt(buf, log.close, STREAM_KEY)) return undefined;
  const s = log.close + STREAM_KEY.length;
  // "stdout" / "stderr"
  if (s + 6 > end || buf[s] !== 0x73 || buf[s + 1] !== 0x74 || buf[s + 2] !== 0x64) return undefined;
  const stream = buf[s + 3] === 0x6f && buf[s + 4] === 0x75 && buf[s + 5] === 0x74 ? 'stdout' : buf[s + 3] === 0x65 && buf[s + 4] === 0x72 && buf[s + 5] === 0x72 ? 'stderr' : undefined;
  if (!stream || !startsWithAt(buf, s + 6, TIME_KEY)) return undefined;
  const t = s + 6 + TIME_KEY.length;
  let close = end - 1;
  while (close > t && (buf[close] === 0x0d || buf[close] === 0x20)) close--;
  if (buf[close] !== 0x7d || buf[close - 1] !== QUOTE) return undefined;
  const tq = buf.indexOf(QUOTE, t);
  if (tq !== close - 1) return undefined;
  const timeNano = scanTime(buf, t, tq);
  if (timeNano === undefined) return undefined;
  // Last, once nothing can fail: the row is only changed when it is taken.
  const to = log.escaped ? unescapeInPlace(buf, from, log.close) : log.close;
  return { stream, line: buf.subarray(from, to), timeNano };
}

/**
 * One json-file row at buf[start, end) (newline excluded; a trailing CR is JSON whitespace);
 * throws on anything that is not a json-file entry. `utf8` says the bytes are known to be valid
 * UTF-8; when they may not be, the row is decoded as text first, as JSON.parse needs. The entry's
 * `line` may be a view of `buf`, whose row bytes may have been unescaped in place.
 */
export function decodeRow(buf: Buffer, start: number, end: number, utf8: boolean): LogLine {
  return (utf8 && scanRow(buf, start, end)) || decodeEntry(buf.toString('utf8', start, end));
}
