import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry, type FrameOptions, framesOfLines, type LogLine, openJsonLogPacked } from './index';

/** A stdcopy byte stream back as [stream, bytes] frames; throws on a torn frame. */
function frames(buf: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let p = 0; p < buf.length; ) {
    if (p + 8 > buf.length) throw new Error(`torn head at ${p}`);
    const len = buf.readUInt32BE(p + 4);
    if (p + 8 + len > buf.length) throw new Error(`torn frame at ${p}`);
    out.push([buf[p]!, buf.toString('utf8', p + 8, p + 8 + len)]);
    p += 8 + len;
  }
  return out;
}

const all: FrameOptions = { merge: false, raw: false, stdout: true, stderr: true };
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'frames-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(lines: LogLine[], o: FrameOptions, extra: { tail?: number; sinceNano?: bigint; untilNano?: bigint; raw?: Buffer } = {}): Promise<Buffer> {
  const path = join(dir, `${Math.random()}.log`);
  writeFileSync(path, Buffer.concat([...lines.map(encodeEntry), extra.raw ?? Buffer.alloc(0)]));
  const got: Buffer[] = [];
  for await (const b of await openJsonLogPacked(path, { maxFiles: 1, tail: extra.tail ?? -1, sinceNano: extra.sinceNano ?? 0n, untilNano: extra.untilNano ?? 0n, frames: o })) got.push(b);
  return Buffer.concat(got);
}

const mixed: LogLine[] = [
  { stream: 'stdout', line: Buffer.from('a\n'), timeNano: 1_000_000_001n },
  { stream: 'stdout', line: Buffer.from('b "quoted" \\ tab\t\n'), timeNano: 1_000_000_002n },
  { stream: 'stderr', line: Buffer.from('err 🐳\n'), timeNano: 1_000_000_003n },
  { stream: 'stdout', line: Buffer.from('no newline'), timeNano: 1_000_000_004n },
  { stream: 'stderr', line: Buffer.from(''), timeNano: 1_000_000_005n },
];

describe('log entries read as the client bytes', () => {
  it('a frame per entry, in order across the streams, escapes undone', async () => {
    expect(frames(await read(mixed, all))).toEqual(mixed.map((l) => [l.stream === 'stderr' ? 2 : 1, l.line.toString()]));
  });

  it('merged: entries in a row of one stream share a frame, the order of the streams kept', async () => {
    expect(frames(await read(mixed, { ...all, merge: true }))).toEqual([
      [1, 'a\nb "quoted" \\ tab\t\n'],
      [2, 'err 🐳\n'],
      [1, 'no newline'],
      [2, ''],
    ]);
  });

  it('only the streams asked for; raw has no heads', async () => {
    expect(frames(await read(mixed, { ...all, stdout: false }))).toEqual([
      [2, 'err 🐳\n'],
      [2, ''],
    ]);
    expect((await read(mixed, { ...all, raw: true, merge: true })).toString()).toBe(mixed.map((l) => l.line.toString()).join(''));
  });

  it('tail, since and until choose the same entries as for packed reads; a torn row is skipped', async () => {
    expect(frames(await read(mixed, all, { tail: 2 })).map((f) => f[1])).toEqual(['no newline', '']);
    expect(frames(await read(mixed, all, { sinceNano: 1_000_000_002n, untilNano: 1_000_000_003n })).map((f) => f[1])).toEqual(['b "quoted" \\ tab\t\n', 'err 🐳\n']);
    const torn = Buffer.from('{"log":"half a ro');
    const got = await read([mixed[0]!], all, { raw: Buffer.concat([torn, Buffer.from('\n'), encodeEntry(mixed[2]!)]) });
    expect(frames(got).map((f) => f[1])).toEqual(['a\n', 'err 🐳\n']);
  });

  it('a line bigger than a read (3 MiB) is one whole frame, and merging never crosses a buffer badly', async () => {
    const big = 'y'.repeat(3 * 1024 * 1024);
    const lines: LogLine[] = [mixed[0]!, { stream: 'stdout', line: Buffer.from(big), timeNano: 7n }, { stream: 'stdout', line: Buffer.from('after\n'), timeNano: 8n }];
    const got = frames(await read(lines, { ...all, merge: true }));
    expect(got.map((f) => f[1]).join('')).toBe(`a\n${big}after\n`);
    expect(got.every((f) => f[0] === 1)).toBe(true);
    expect(frames(await read(lines, all)).map((f) => f[1].length)).toEqual([2, big.length, 6]);
  });

  it('many rows over many reads: every byte, in order', async () => {
    const lines: LogLine[] = [];
    for (let i = 0; i < 25_000; i++) lines.push({ stream: i % 3 ? 'stdout' : 'stderr', line: Buffer.from(`line ${i} ${'x'.repeat(i % 50)}\n`), timeNano: BigInt(i + 1) });
    const want = lines.map((l) => [l.stream === 'stderr' ? 2 : 1, l.line.toString()]);
    expect(frames(await read(lines, all))).toEqual(want);
    const merged = frames(await read(lines, { ...all, merge: true }));
    expect(merged.map((f) => f[1]).join('')).toBe(lines.map((l) => l.line.toString()).join(''));
    expect(merged.length).toBeLessThan(lines.length);
  });

  it('LogLine batches (a monitor with another log format) frame the same way', () => {
    expect(frames(framesOfLines(mixed, { ...all, merge: true }))).toEqual([
      [1, 'a\nb "quoted" \\ tab\t\n'],
      [2, 'err 🐳\n'],
      [1, 'no newline'],
      [2, ''],
    ]);
    expect(frames(framesOfLines(mixed, all))).toEqual(mixed.map((l) => [l.stream === 'stderr' ? 2 : 1, l.line.toString()]));
    expect(frames(framesOfLines(mixed, { ...all, merge: true, stderr: false }))).toEqual([[1, 'a\nb "quoted" \\ tab\t\nno newline']]);
    expect(framesOfLines(mixed, { ...all, raw: true, stdout: false }).toString()).toBe('err 🐳\n');
  });
});
