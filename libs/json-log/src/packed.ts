import type { LogLine, StreamName } from './format';

/**
 * Many log entries in one buffer, for the Logs stream (`LogEntry.packed` in the shim contract):
 * a protobuf message per entry cost more than reading the file. Each entry is a 20-byte head,
 * then its bytes:
 *   0..7   seconds since 1970, uint64 big-endian
 *   8..11  nanoseconds, uint32 big-endian
 *   12..19 a Docker stdcopy head: stream (1 stdout, 2 stderr), 0, 0, 0, length uint32 big-endian
 * The last 8 bytes of the head and the entry's bytes are then exactly the frame `docker logs`
 * reads, so the gateway frames a batch with one copy.
 */
export const PACKED_HEAD = 20;
export const STREAM_CODE: Record<StreamName, number> = { stdout: 1, stderr: 2 };

const TWO_32 = 2 ** 32;

/** Writes one entry's head at `p`; the caller puts its `len` bytes at `p + PACKED_HEAD`. */
export function putPackedHead(out: Buffer, p: number, stream: number, sec: number, nanos: number, len: number): void {
  const hi = Math.floor(sec / TWO_32);
  const lo = sec - hi * TWO_32;
  out[p] = hi >>> 24;
  out[p + 1] = hi >>> 16;
  out[p + 2] = hi >>> 8;
  out[p + 3] = hi;
  out[p + 4] = lo >>> 24;
  out[p + 5] = lo >>> 16;
  out[p + 6] = lo >>> 8;
  out[p + 7] = lo;
  out[p + 8] = nanos >>> 24;
  out[p + 9] = nanos >>> 16;
  out[p + 10] = nanos >>> 8;
  out[p + 11] = nanos;
  out[p + 12] = stream;
  out[p + 13] = 0;
  out[p + 14] = 0;
  out[p + 15] = 0;
  out[p + 16] = len >>> 24;
  out[p + 17] = len >>> 16;
  out[p + 18] = len >>> 8;
  out[p + 19] = len;
}

/** Seconds and nanoseconds of a time in nanoseconds (times before 1970 are taken as 1970). */
export function splitNano(ns: bigint): { sec: number; nanos: number } {
  if (ns <= 0n) return { sec: 0, nanos: 0 };
  return { sec: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

/** Entries packed into one buffer sized up front. */
export function packLines(lines: readonly LogLine[]): Buffer {
  let size = 0;
  for (const l of lines) size += PACKED_HEAD + l.line.length;
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  for (const l of lines) {
    const { sec, nanos } = splitNano(l.timeNano);
    putPackedHead(out, p, STREAM_CODE[l.stream], sec, nanos, l.line.length);
    out.set(l.line, p + PACKED_HEAD);
    p += PACKED_HEAD + l.line.length;
  }
  return out;
}

/** One packed entry, as `forEachPacked` hands it over: its bytes are `buf[start, end)`. */
export interface PackedEntry {
  stream: number;
  sec: number;
  nanos: number;
  /** Where the entry's head starts (its stdcopy head at `head + 12`). */
  head: number;
  start: number;
  end: number;
}

/**
 * Calls `fn` for each entry of a packed buffer, with one reused object (no allocation per
 * entry). Throws on a truncated buffer: a sender bug, never to be taken for the end of a log.
 */
export function forEachPacked(buf: Uint8Array, fn: (e: PackedEntry) => void): void {
  const e: PackedEntry = { stream: 0, sec: 0, nanos: 0, head: 0, start: 0, end: 0 };
  for (let p = 0; p < buf.length; ) {
    if (p + PACKED_HEAD > buf.length) throw new Error(`packed log entries: truncated head at ${p} of ${buf.length}`);
    const len = ((buf[p + 16]! << 24) >>> 0) + (buf[p + 17]! << 16) + (buf[p + 18]! << 8) + buf[p + 19]!;
    if (p + PACKED_HEAD + len > buf.length) throw new Error(`packed log entries: entry of ${len} bytes at ${p} runs past ${buf.length}`);
    e.sec = (((buf[p]! << 24) >>> 0) + (buf[p + 1]! << 16) + (buf[p + 2]! << 8) + buf[p + 3]!) * TWO_32 + ((buf[p + 4]! << 24) >>> 0) + (buf[p + 5]! << 16) + (buf[p + 6]! << 8) + buf[p + 7]!;
    e.nanos = ((buf[p + 8]! << 24) >>> 0) + (buf[p + 9]! << 16) + (buf[p + 10]! << 8) + buf[p + 11]!;
    e.stream = buf[p + 12]!;
    e.head = p;
    e.start = p + PACKED_HEAD;
    e.end = e.start + len;
    fn(e);
    p = e.end;
  }
}

/** The entries of a packed buffer; each line is a view of `buf`, not a copy. */
export function unpackLines(buf: Buffer): LogLine[] {
  const out: LogLine[] = [];
  forEachPacked(buf, (e) => {
    out.push({ stream: e.stream === 2 ? 'stderr' : 'stdout', line: buf.subarray(e.start, e.end), timeNano: BigInt(e.sec) * 1_000_000_000n + BigInt(e.nanos) });
  });
  return out;
}

/** Only the entries of the wanted streams (the same buffer when nothing is left out). */
export function filterPacked(buf: Buffer, stdout: boolean, stderr: boolean): Buffer {
  if (stdout && stderr) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  let p = 0;
  forEachPacked(buf, (e) => {
    if (e.stream === 2 ? !stderr : !stdout) return;
    p += buf.copy(out, p, e.head, e.end);
  });
  return out.subarray(0, p);
}
