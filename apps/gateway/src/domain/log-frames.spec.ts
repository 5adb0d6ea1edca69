import { describe, expect, it } from 'vitest';
import { type LogLine, packLines, splitNano } from '@berth/json-log';
import { shimV1 } from '@berth/proto';
import { framesFromPacked, logFrames } from './log-frames';

const lines: LogLine[] = [
  { stream: 'stdout', line: Buffer.from('a\n'), timeNano: 1_714_979_289_000_000_000n },
  { stream: 'stdout', line: Buffer.from('b\n'), timeNano: 1_714_979_289_120_000_000n },
  { stream: 'stderr', line: Buffer.from('c'), timeNano: 1_714_979_290_000_000_001n },
  { stream: 'stdout', line: Buffer.from(''), timeNano: 1_714_979_291_999_999_999n },
  { stream: 'stdout', line: Buffer.from('é\n'), timeNano: 1_714_979_291_999_999_999n },
];

function entries(): shimV1.LogEntry[] {
  return lines.map((l) => {
    const t = splitNano(l.timeNano);
    return { stream: l.stream === 'stderr' ? 2 : 1, line: l.line, timeUnixNano: 0, timeUnixSec: t.sec, timeNanos: t.nanos, batch: [], packed: Buffer.alloc(0), frames: Buffer.alloc(0) };
  });
}

/** A stdcopy stream cut into [stream, payload] frames. */
function demux(b: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let p = 0; p < b.length; ) {
    const len = b.readUInt32BE(p + 4);
    out.push([b[p]!, b.subarray(p + 8, p + 8 + len).toString()]);
    p += 8 + len;
  }
  return out;
}

describe('log frames from packed entries', () => {
  it('are the bytes the per-entry framing gives, multiplexed or raw, with and without times', () => {
    for (const multiplexed of [true, false]) {
      for (const timestamps of [true, false]) {
        expect(framesFromPacked(packLines(lines), { multiplexed, timestamps }).toString('hex')).toBe(logFrames(entries(), { multiplexed, timestamps }).toString('hex'));
      }
    }
  });

  it('merged, give each stream the same bytes in fewer frames', () => {
    for (const timestamps of [true, false]) {
      const one = demux(logFrames(entries(), { multiplexed: true, timestamps }));
      const merged = demux(framesFromPacked(packLines(lines), { multiplexed: true, timestamps, merge: true }));
      expect(merged.map(([s]) => s)).toEqual([1, 2, 1]);
      for (const s of [1, 2]) {
        expect(merged.filter(([x]) => x === s).map(([, t]) => t).join('')).toBe(one.filter(([x]) => x === s).map(([, t]) => t).join(''));
      }
    }
  });
});
