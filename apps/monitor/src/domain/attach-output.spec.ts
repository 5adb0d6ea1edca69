import type { StreamName } from '@berth/json-log';
import { describe, expect, it } from 'vitest';
import { AttachOutput, parseAttachPacket } from './attach-output';

const packet = (pipe: number, text: string) => Buffer.concat([Buffer.from([pipe]), Buffer.from(text)]);

function client(streams: StreamName[]) {
  const got: string[] = [];
  let ended = 0;
  return { sub: { streams: new Set(streams), data: (s: StreamName, b: Buffer) => got.push(`${s}:${b.toString()}`), end: () => ended++ }, got, ended: () => ended };
}

describe('parseAttachPacket', () => {
  it('reads conmon pipe numbers: 2 is stdout, 3 is stderr', () => {
    expect(parseAttachPacket(packet(2, 'out\n'))).toEqual({ stream: 'stdout', bytes: Buffer.from('out\n') });
    expect(parseAttachPacket(packet(3, 'err'))).toEqual({ stream: 'stderr', bytes: Buffer.from('err') });
  });

  it('takes nothing else as output: stdin pipe, unknown bytes, a packet with no bytes', () => {
    expect(parseAttachPacket(packet(1, 'x'))).toBeUndefined();
    expect(parseAttachPacket(packet(0, 'x'))).toBeUndefined();
    expect(parseAttachPacket(packet(4, 'x'))).toBeUndefined();
    expect(parseAttachPacket(Buffer.from([2]))).toBeUndefined();
    expect(parseAttachPacket(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('AttachOutput', () => {
  it('sends each client the streams it asked for, in order, and ends them all once', () => {
    const out = new AttachOutput();
    const both = client(['stdout', 'stderr']);
    const errOnly = client(['stderr']);
    out.add(both.sub);
    out.add(errOnly.sub);
    out.packet(packet(2, 'a'));
    out.packet(packet(3, 'b'));
    out.packet(packet(9, 'junk'));
    out.packet(packet(2, 'c'));
    out.end();
    out.end();
    expect(both.got).toEqual(['stdout:a', 'stderr:b', 'stdout:c']);
    expect(errOnly.got).toEqual(['stderr:b']);
    expect([both.ended(), errOnly.ended()]).toEqual([1, 1]);
  });

  it('a client that left gets nothing more and no end; one added after an end waits for the next', () => {
    const out = new AttachOutput();
    const gone = client(['stdout']);
    const leave = out.add(gone.sub);
    out.packet(packet(2, 'first'));
    leave();
    out.packet(packet(2, 'second'));
    out.end();
    const next = client(['stdout']);
    out.add(next.sub);
    out.packet(packet(2, 'third'));
    expect(gone.got).toEqual(['stdout:first']);
    expect(gone.ended()).toBe(0);
    expect(next.got).toEqual(['stdout:third']);
    expect(next.ended()).toBe(0);
  });
});
