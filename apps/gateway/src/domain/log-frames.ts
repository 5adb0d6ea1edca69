import { shimV1 } from '@berth/proto';
import { rfc3339Nano, STDERR, STDOUT } from './stdcopy';

/**
 * A batch of log entries as the bytes `docker logs` reads: stdcopy frames (or raw lines for a
 * tty), each optionally prefixed with its time, written into one buffer sized up front, so a
 * batch costs one allocation and one socket write instead of three buffers per line.
 */
export function logFrames(entries: readonly shimV1.LogEntry[], o: { multiplexed: boolean; timestamps: boolean }): Buffer {
  const stamps = o.timestamps ? entries.map((e) => `${rfc3339Nano(e.timeUnixSec, e.timeNanos)} `) : undefined;
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
