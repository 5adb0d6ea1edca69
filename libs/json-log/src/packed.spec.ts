import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeEntry, filterPacked, forEachPacked, type LogLine, openJsonLogPacked, packLines, unpackLines } from './index';

const lines: LogLine[] = [
  { stream: 'stdout', line: Buffer.from('one\n'), timeNano: 1n },
  { stream: 'stderr', line: Buffer.from(''), timeNano: 1_714_979_289_123_456_789n },
  // Past 2^32 seconds: the head's 64-bit seconds.
  { stream: 'stdout', line: Buffer.from('🐳 far future'), timeNano: 5_000_000_000n * 1_000_000_000n + 7n },
];

describe('packed log entries', () => {
  it('read back as they were packed, each head ending with its stdcopy head', () => {
    const p = packLines(lines);
    expect(unpackLines(p).map((l) => ({ ...l, line: Buffer.from(l.line) }))).toEqual(lines);
    const heads: number[][] = [];
    forEachPacked(p, (e) => heads.push([...p.subarray(e.head + 12, e.start)]));
    expect(heads).toEqual([
      [1, 0, 0, 0, 0, 0, 0, 4],
      [2, 0, 0, 0, 0, 0, 0, 0],
      [1, 0, 0, 0, 0, 0, 0, 15],
    ]);
  });

  it('keep only the streams asked for', () => {
    const p = packLines(lines);
    expect(filterPacked(p, true, true)).toBe(p);
    expect(unpackLines(filterPacked(p, false, true)).map((l) => l.stream)).toEqual(['stderr']);
    expect(unpackLines(filterPacked(p, true, false)).map((l) => l.line.toString())).toEqual(['one\n', '🐳 far future']);
  });

  it('refuse a truncated buffer rather than end early', () => {
    const p = packLines(lines);
    expect(() => forEachPacked(p.subarray(0, p.length - 1), () => undefined)).toThrow(/runs past/);
    expect(() => forEachPacked(p.subarray(0, 10), () => undefined)).toThrow(/truncated head/);
  });

  it('a row far bigger than a read (3 MiB of one entry, as another writer may keep) reads back whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'packed-'));
    try {
      const big = Buffer.alloc(3 * 1024 * 1024, 'z');
      const rows = [encodeEntry({ stream: 'stdout', line: Buffer.from('before\n'), timeNano: 10n }), encodeEntry({ stream: 'stderr', line: big, timeNano: 11n }), encodeEntry({ stream: 'stdout', line: Buffer.from('after\n'), timeNano: 12n })];
      writeFileSync(join(dir, 'c.log'), Buffer.concat(rows));
      const got: LogLine[] = [];
      for await (const b of await openJsonLogPacked(join(dir, 'c.log'), { maxFiles: 1, tail: -1, sinceNano: 0n, untilNano: 0n })) got.push(...unpackLines(b));
      expect(got.map((l) => [l.stream, l.line.length, l.timeNano])).toEqual([
        ['stdout', 7, 10n],
        ['stderr', big.length, 11n],
        ['stdout', 6, 12n],
      ]);
      expect(got[1]!.line.equals(big)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
