import type { LogLine } from './format';
import { STREAM_CODE } from './packed';

/**
 * Log entries as the bytes a `docker logs` client reads, built where the log is read: Docker
 * stdcopy frames (an 8-byte head: stream 1 stdout / 2 stderr, three zeros, length uint32
 * big-endian, then the bytes), or a tty's bare bytes. Building them once, in the reader's own
 * pass over the file, leaves nothing per entry to the hops after it (issue 13).
 */
export interface FrameOptions {
  /** Entries in a row of one stream share a frame (for clients that only copy frames out). */
  merge: boolean;
  /** No stdcopy heads: a tty's log, where Docker writes the bytes as they are. */
  raw: boolean;
  stdout: boolean;
  stderr: boolean;
}

export const FRAME_HEAD = 8;

/**
 * Appends entries to a buffer as frames: `open` starts a new frame unless the last one is of
 * the same stream and merging is on; `close` writes the open frame's length. The caller makes
 * sure `out` has room (an entry needs at most FRAME_HEAD more than its bytes).
 */
export class FrameWriter {
  out: Buffer = Buffer.alloc(0);
  p = 0;
  private frameAt = -1;
  private stream = 0;
  constructor(readonly o: FrameOptions) {}

  wants(stream: number): boolean {
    return stream === 2 ? this.o.stderr : this.o.stdout;
  }

  /** Starts writing into a fresh buffer of `size` bytes, returning what the last one held. */
  reset(size: number): Buffer | undefined {
    this.close();
    const done = this.p ? this.out.subarray(0, this.p) : undefined;
    this.out = Buffer.allocUnsafe(size);
    this.p = 0;
    return done;
  }

  /** Room for an entry of `len` bytes of `stream` in the current buffer. */
  fits(stream: number, len: number): boolean {
    return this.p + len + (this.o.raw || (this.o.merge && this.frameAt >= 0 && this.stream === stream) ? 0 : FRAME_HEAD) <= this.out.length;
  }

  /** Writes the head an entry of `stream` needs, if any; its bytes then go at `p`. */
  head(stream: number): void {
    if (this.o.raw) return;
    if (this.o.merge && this.frameAt >= 0 && this.stream === stream) return;
    this.close();
    const out = this.out;
    const p = this.p;
    out[p] = stream;
    out[p + 1] = 0;
    out[p + 2] = 0;
    out[p + 3] = 0;
    this.frameAt = p;
    this.stream = stream;
    this.p = p + FRAME_HEAD;
  }

  /** Ends the open frame (writes its length): the next entry starts a new one. */
  close(): void {
    if (this.frameAt < 0) return;
    this.out.writeUInt32BE(this.p - this.frameAt - FRAME_HEAD, this.frameAt + 4);
    this.frameAt = -1;
  }

  /** What was written so far, the open frame closed; the writer starts over in the same buffer's rest. */
  take(): Buffer | undefined {
    this.close();
    if (!this.p) return undefined;
    const done = this.out.subarray(0, this.p);
    this.out = this.out.subarray(this.p);
    this.p = 0;
    return done;
  }
}

/** LogLine batches (a monitor whose log is not json-file) as frames, one buffer sized up front. */
export function framesOfLines(lines: readonly LogLine[], o: FrameOptions): Buffer {
  let size = 0;
  for (const l of lines) size += FRAME_HEAD + l.line.length;
  const w = new FrameWriter(o);
  w.reset(size);
  for (const l of lines) {
    const stream = STREAM_CODE[l.stream];
    if (!w.wants(stream)) continue;
    w.head(stream);
    w.out.set(l.line, w.p);
    w.p += l.line.length;
  }
  return w.take() ?? Buffer.alloc(0);
}
