import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Follow, JsonLogWriter, LineSplitter, type LogLine, nowNano, openJsonLog, parseRfc3339Nano, rfc3339Nano } from './index';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'json-log-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function all(opening: Promise<AsyncIterable<LogLine[]>>): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of await opening) for (const l of batch) out.push(l.line.toString());
  return out;
}

function writeLines(w: JsonLogWriter, n: number, from = 0): bigint[] {
  const times: bigint[] = [];
  for (let i = from; i < from + n; i++) {
    const t = nowNano();
    times.push(t);
    w.write({ stream: i % 2 ? 'stderr' : 'stdout', line: Buffer.from(`line ${i}\n`), timeNano: t });
  }
  return times;
}

const base = { maxFiles: 1, tail: -1, sinceNano: 0n, untilNano: 0n };

describe('json-file log', () => {
  it('reads back every line, across rotated files, oldest first', async () => {
    const w = new JsonLogWriter(join(dir, 'c.log'), 2000, 3);
    writeLines(w, 40);
    const got = await all(openJsonLog(w.path, { ...base, maxFiles: 3 }));
    // 3 files of under 2000 bytes keep the newest lines only, in order, none doubled.
    expect(got.length).toBeGreaterThan(10);
    const first = Number(/line (\d+)/.exec(got[0]!)![1]);
    expect(got).toEqual(Array.from({ length: 40 - first }, (_, i) => `line ${first + i}\n`));
  });

  it('tails from the end, across files', async () => {
    const w = new JsonLogWriter(join(dir, 'c.log'), 500, 5);
    writeLines(w, 30);
    expect(await all(openJsonLog(w.path, { ...base, maxFiles: 5, tail: 12 }))).toEqual(Array.from({ length: 12 }, (_, i) => `line ${18 + i}\n`));
    expect(await all(openJsonLog(w.path, { ...base, maxFiles: 5, tail: 0 }))).toEqual([]);
    expect(await all(openJsonLog(w.path, { ...base, maxFiles: 5, tail: 1000 }))).toEqual(await all(openJsonLog(w.path, { ...base, maxFiles: 5 })));
  });

  it('filters by since and until', async () => {
    const w = new JsonLogWriter(join(dir, 'c.log'), 0, 1);
    const t = writeLines(w, 10);
    expect(await all(openJsonLog(w.path, { ...base, sinceNano: t[3]!, untilNano: t[6]! }))).toEqual(['line 3\n', 'line 4\n', 'line 5\n', 'line 6\n']);
  });

  it('cuts an endless line into 16 KiB entries that read back as the same bytes', async () => {
    const s = new LineSplitter();
    const pieces = [...s.push(Buffer.alloc(40_000, 'a')), ...s.push(Buffer.from('b\nc'))];
    expect(pieces.map((p) => p.length)).toEqual([16384, 16384, 7234]);
    expect(s.flush()?.toString()).toBe('c');
  });

  // A follower once lost the lines of a file rotated while it was between reads (1 run in 3 on a
  // loaded machine): it opened the files by name after a rotation had shifted the names.
  it('follows new lines and rotations until the writer ends', async () => {
    const w = new JsonLogWriter(join(dir, 'c.log'), 300, 2);
    writeLines(w, 3);
    let ended = false;
    const follow: Follow = { onChange: (fn) => w.onChange(fn), ended: () => ended, onRotate: (fn) => w.onRotate(fn) };
    // The tail is of the log as it is when the reader has opened it.
    const opened = await openJsonLog(w.path, { ...base, maxFiles: 2, tail: 1, follow });
    const reading = all(Promise.resolve(opened));
    for (let i = 3; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 2));
      writeLines(w, 1, i);
      w.changed();
    }
    ended = true;
    w.changed();
    expect(await reading).toEqual(Array.from({ length: 38 }, (_, i) => `line ${2 + i}\n`));
  });

  it('follows a writer in another process (no rotation hook) across rotations, by inotify', async () => {
    // A writer this follower is not told about: rotations are found by the file's inode. Such a
    // writer never waits for a reader, so a reader that lags by more than max-file files loses the
    // oldest (as with dockerd); the files here hold every line, so only a follower bug can lose one.
    const w = new JsonLogWriter(join(dir, 'c.log'), 300, 16);
    writeLines(w, 3);
    let ended = false;
    const changes = new Set<() => void>();
    const follow: Follow = { onChange: (fn) => (changes.add(fn), () => changes.delete(fn)), ended: () => ended };
    const opened = await openJsonLog(w.path, { ...base, maxFiles: 16, tail: 1, follow });
    const reading = all(Promise.resolve(opened));
    for (let i = 3; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 5));
      writeLines(w, 1, i);
    }
    ended = true;
    for (const fn of [...changes]) fn();
    expect(await reading).toEqual(Array.from({ length: 38 }, (_, i) => `line ${2 + i}\n`));
  });

  it('an unreadable log is an error, not an empty log', async () => {
    mkdirSync(join(dir, 'd.log'));
    await expect(all(openJsonLog(join(dir, 'd.log'), base))).rejects.toThrow(/EISDIR/);
  });

  it('skips a torn row', async () => {
    writeFileSync(join(dir, 'c.log'), '{"log":"a\\n","stream":"stdout","time":"2024-01-01T00:00:00.000000001Z"}\n{"log":"b');
    expect(await all(openJsonLog(join(dir, 'c.log'), base))).toEqual(['a\n']);
  });
});

describe('times', () => {
  it('parses RFC3339 with any fraction and offset', () => {
    expect(parseRfc3339Nano('2024-01-02T03:04:05.000000007Z')).toBe(1704164645000000007n);
    expect(parseRfc3339Nano('2024-01-02T03:04:05.5Z')).toBe(1704164645500000000n);
    expect(parseRfc3339Nano('2024-01-02T03:04:06Z')).toBe(1704164646000000000n);
    expect(parseRfc3339Nano('2024-01-02T04:04:05.1+01:00')).toBe(1704164645100000000n);
    expect(parseRfc3339Nano('nonsense')).toBe(0n);
    expect(parseRfc3339Nano(rfc3339Nano(1704164645123456789n))).toBe(1704164645123456789n);
  });
});
