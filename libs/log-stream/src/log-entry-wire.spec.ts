import { describe, expect, it } from 'vitest';
import { shimV1 } from '@berth/proto';
import { decodeLogEntry, encodeLogEntry, shimServiceWire } from './log-entry-wire';

const generic = {
  encode: (e: Partial<shimV1.LogEntry>) => Buffer.from(shimV1.LogEntry.encode(shimV1.LogEntry.fromPartial(e)).finish()),
  decode: (b: Buffer) => shimV1.LogEntry.decode(b),
};

function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

// Lengths at each varint width's edges.
const SIZES = [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152 + 3];

describe('log entry wire', () => {
  it.each(SIZES)('a frames-only message of %i bytes encodes as the generated code does, and decodes as a view', (n) => {
    const frames = bytes(n);
    const wire = encodeLogEntry(shimV1.LogEntry.fromPartial({ frames }));
    expect(wire.equals(generic.encode({ frames }))).toBe(true);
    const back = decodeLogEntry(wire);
    const want = generic.decode(wire);
    // Buffers compared by equals: a deep equal walks 2 MiB a byte at a time.
    expect(back.frames.equals(want.frames)).toBe(true);
    expect({ ...back, frames: 0 }).toEqual({ ...want, frames: 0 });
    expect(back.frames.equals(frames)).toBe(true);
    expect(back.frames.buffer).toBe(wire.buffer);
  });

  it('any other message goes through the generated code both ways', () => {
    const cases: Partial<shimV1.LogEntry>[] = [
      {},
      { stream: shimV1.StreamKind.STREAM_KIND_STDERR, line: Buffer.from('x\n'), timeUnixSec: 5, timeNanos: 9 },
      { packed: bytes(300) },
      { frames: bytes(10), timeUnixSec: 1 },
      { frames: bytes(10), packed: bytes(3) },
      { batch: [shimV1.LogEntry.fromPartial({ line: Buffer.from('a') })] },
    ];
    for (const c of cases) {
      const e = shimV1.LogEntry.fromPartial(c);
      const wire = encodeLogEntry(e);
      expect(wire.equals(generic.encode(c))).toBe(true);
      expect(decodeLogEntry(wire)).toEqual(generic.decode(wire));
    }
  });

  it('a frames field followed by other fields, or cut short, is not taken as frames alone', () => {
    const both = Buffer.concat([generic.encode({ frames: bytes(20) }), generic.encode({ timeUnixSec: 7 })]);
    expect(decodeLogEntry(both)).toEqual(generic.decode(both));
    expect(decodeLogEntry(both).timeUnixSec).toBe(7);
    const cut = generic.encode({ frames: bytes(200) }).subarray(0, 100);
    expect(() => decodeLogEntry(cut)).toThrow();
    // A varint that never ends within its five bytes.
    expect(() => decodeLogEntry(Buffer.from([66, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow();
  });

  it('only the Logs stream changes in the contract', () => {
    for (const [name, m] of Object.entries(shimV1.ShimService)) {
      if (name === 'logs') continue;
      expect(shimServiceWire[name as keyof typeof shimServiceWire]).toBe(m);
    }
    expect(shimServiceWire.logs.path).toBe(shimV1.ShimService.logs.path);
    expect(shimServiceWire.logs.responseSerialize).toBe(encodeLogEntry);
    expect(shimServiceWire.logs.responseDeserialize).toBe(decodeLogEntry);
  });
});
