import { forEachPacked, PACKED_HEAD } from '@berth/json-log';
import { shimV1 } from '@berth/proto';
import { rfc3339NanoFixed, STDERR, STDOUT } from './stdcopy';

/**
 * A batch of log entries as the bytes `docker logs` reads: stdcopy frames (or raw lines for a
 * tty), each optionally prefixed with its time, written into one buffer sized up front, so a
 * batch costs one allocation and one socket write instead of three buffers per line.
 */
export function logFrames(entries: readonly shimV1.LogEntry[], o: { multiplexed: boolean; timestamps: boolean }): Buffer {
  const stamps = o.timestamps ? entries.map((e) => `${rfc3339NanoFixed(e.timeUnixSec, e.timeNanos)} `) : undefined;
  let size = 0;
  for (let i = 0; i < entries.length; i++) size += (o.multiplexed ? 8 : 0) + entries[i]!.line.length + (stamps ? Buffer.byteLength(stamps[i]!, 'latin1') : 0);
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const stamp = stamps?.[i];
    const len = e.line.length + (stamp ? stamp.length : 0);
    if (o.multiplexed) {
      out[p] = e.stream === shimV1.StreamKind.STREAM_KIND_STDERR ? STDERR : STDOUT;
      out[p + 1] = 0;
      out[p + 2] = 0;
      out[p + 3] = 0;
      out.writeUInt32BE(len, p + 4);
      p += 8;
    }
    if (stamp) p += out.write(stamp, p, 'latin1');
    out.set(e.line, p);
    p += e.line.length;
  }
  return out;
}

/** The offset of the stdcopy head in a packed entry's head (libs/json-log packed.ts). */
const FRAME_AT = PACKED_HEAD - 8;

let stampSec = -1;
let stampDate = '';

/** `docker logs -t`'s time prefix; the date part is formatted once per second. */
function stampOf(sec: number, nanos: number): string {
  if (sec !== stampSec) {
    stampSec = sec;
    stampDate = rfc3339NanoFixed(sec, 0).slice(0, 19);
  }
  return `${stampDate}.${String(nanos).padStart(9, '0')}Z `;
}

/**
 * Packed entries (one bytes field from the shim) as the bytes `docker logs` reads. A packed
 * entry's head ends with its stdcopy head, so without timestamps a frame is one copy. With
 * `merge`, entries in a row of one stream share a frame: for a client that only copies frames'
 * bytes out (the docker CLI writes each frame as it comes, a system call per line) the output is
 * the same, in far fewer writes; other clients may see a frame as a line, as dockerd sends them.
 */
export function framesFromPacked(packed: Buffer, o: { multiplexed: boolean; timestamps: boolean; merge?: boolean }): Buffer {
  if (o.multiplexed && !o.timestamps && !o.merge) {
    const out = Buffer.allocUnsafe(packed.length);
    let p = 0;
    forEachPacked(packed, (e) => {
      p += packed.copy(out, p, e.head + FRAME_AT, e.end);
    });
    return out.subarray(0, p);
  }
  const parts: { stamp: string; start: number; end: number; stream: number }[] = [];
  let size = 0;
  let prev = -1;
  forEachPacked(packed, (e) => {
    const stamp = o.timestamps ? stampOf(e.sec, e.nanos) : '';
    const joined = o.merge && e.stream === prev;
    prev = e.stream;
    parts.push({ stamp, start: e.start, end: e.end, stream: joined ? -1 : e.stream });
    size += (o.multiplexed && !joined ? 8 : 0) + stamp.length + e.end - e.start;
  });
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  let frame = -1;
  for (const x of parts) {
    if (o.multiplexed && x.stream >= 0) {
      if (frame >= 0) out.writeUInt32BE(p - frame - 8, frame + 4);
      frame = p;
      out[p] = x.stream === shimV1.StreamKind.STREAM_KIND_STDERR ? STDERR : STDOUT;
      out[p + 1] = 0;
      out[p + 2] = 0;
      out[p + 3] = 0;
      p += 8;
    }
    if (x.stamp) p += out.write(x.stamp, p, 'latin1');
    p += packed.copy(out, p, x.start, x.end);
  }
  if (frame >= 0) out.writeUInt32BE(p - frame - 8, frame + 4);
  return out;
}
