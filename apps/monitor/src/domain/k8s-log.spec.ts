import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { framesOfLines, type FrameOptions, type LogLine } from '@berth/json-log';
import { parseRfc3339Nano } from '@berth/json-log';
import { openK8sLog, parseK8sRow, parseK8sTime } from './k8s-log';

const dir = mkdtempSync(join(tmpdir(), 'k8s-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(it: AsyncGenerator<LogLine[]>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const b of it) out.push(...b);
  return out;
}

const ROWS = [
  '2026-12-01T14:16:47.686204285+00:00 stdout F out 1',
  '2026-12-01T14:16:47.689465436+00:00 stderr F err 1',
  '2026-12-01T14:16:48.000000001+00:00 stdout P piece-',
  '2026-12-01T14:16:48.000000002+00:00 stdout F end',
  '2026-12-01T14:16:48.103160230+00:00 stdout F',
  '2026-12-01T14:16:48.303601466+00:00 stdout P partial',
];

describe('k8s-file rows', () => {
  it('have conmon times, read as RFC 3339 (offsets, short fractions, a new second each)', () => {
    for (const t of ['2026-12-01T14:16:47.686204285+00:00', '2026-12-01T14:16:47.6+00:00', '2026-12-01T14:16:48.000000001+00:00', '2026-12-01T16:16:48.5+02:00', '2026-12-01T14:16:48.123Z']) {
      expect(parseK8sTime(t)).toBe(parseRfc3339Nano(t));
    }
  });

  it('become json-file entries: F with its newline, P without, an empty F an empty line', () => {
    expect(parseK8sRow(Buffer.from(ROWS[0]!))).toEqual({ stream: 'stdout', line: Buffer.from('out 1\n'), timeNano: 1796134607686204285n });
    expect(parseK8sRow(Buffer.from(ROWS[2]!))!.line.toString()).toBe('piece-');
    expect(parseK8sRow(Buffer.from(ROWS[4]!))!.line.toString()).toBe('\n');
    expect(parseK8sRow(Buffer.from('garbage'))).toBeUndefined();
    expect(parseK8sRow(Buffer.from('2026-12-01T14:16:48Z stdin F x'))).toBeUndefined();
  });

  it('read as frames, gives the bytes the entries frame to, bad rows skipped the same way', async () => {
    const f = join(dir, 'frames.log');
    // Rows whose byte 35 (where conmon's time ends) is a space but whose time is shorter, and a
    // short row before one of conmon's: the width is only a first guess.
    const odd = ['2026-12-01T14:16:47.12345Z stdout F stdout F x', 'x', ROWS[1]!, '2026-12-01T14:16:47.1+00:00 stderr F short fraction'];
    const rows = [...ROWS.slice(0, 5), 'garbage', '2026-12-01T14:16:48Z stdin F x', ' stdout F no time', '2026-12-01T14:16:48Z stderr Fx', ...odd, ROWS[5]!];
    writeFileSync(f, rows.map((r) => `${r}\n`).join(''));
    const lines = await all(await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n }));
    expect(lines.length).toBe(11);
    expect(lines[7]!.line.toString()).toBe('stdout F x\n');
    expect(lines[9]!.line.toString()).toBe('short fraction\n');
    for (const o of [
      { merge: false, raw: false, stdout: true, stderr: true },
      { merge: true, raw: false, stdout: true, stderr: true },
      { merge: true, raw: false, stdout: false, stderr: true },
      { merge: false, raw: true, stdout: true, stderr: true },
    ] satisfies FrameOptions[]) {
      const got: Buffer[] = [];
      for await (const b of await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n, frames: o })) {
        expect(Buffer.isBuffer(b)).toBe(true);
        got.push(b as Buffer);
      }
      expect(Buffer.concat(got).toString('latin1')).toBe(framesOfLines(lines, o).toString('latin1'));
    }
  });

  it('read as frames, rows of any length (past the hand-copied span, across reads of a chunk) give the same bytes', async () => {
    const f = join(dir, 'long.log');
    const lens = [0, 1, 126, 127, 128, 129, 130, 255, 4096, 300_000, 700_000, 3, 0];
    const rows: string[] = [];
    lens.forEach((n, i) => {
      const body = 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n);
      rows.push(`2026-12-01T14:16:47.${String(i).padStart(9, '0')}+00:00 ${i % 3 ? 'stdout' : 'stderr'} ${i % 4 === 1 ? 'P' : 'F'}${n ? ` ${body}` : ''}`);
    });
    // Enough rows that reads of 1 MiB end inside one of them, twice.
    const text = [...rows, ...rows, ...rows, ...rows].map((r) => `${r}\n`).join('');
    expect(text.length).toBeGreaterThan(3 * 1024 * 1024);
    writeFileSync(f, text);
    const lines = await all(await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n }));
    expect(lines.length).toBe(rows.length * 4);
    for (const o of [
      { merge: true, raw: false, stdout: true, stderr: true },
      { merge: false, raw: false, stdout: false, stderr: true },
      { merge: false, raw: true, stdout: true, stderr: true },
    ] satisfies FrameOptions[]) {
      const got: Buffer[] = [];
      for await (const b of await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n, frames: o })) got.push(b as Buffer);
      expect(Buffer.concat(got).equals(framesOfLines(lines, o))).toBe(true);
    }
    // The tail counts lines whatever their length: the P row of 300 000 bytes goes with the F row after it.
    const tail: Buffer[] = [];
    for await (const b of await openK8sLog(f, { tail: 4, sinceNano: 0n, untilNano: 0n, frames: { merge: false, raw: true, stdout: true, stderr: true } })) tail.push(b as Buffer);
    expect(Buffer.concat(tail).toString()).toBe(Buffer.concat(lines.slice(-5).map((l) => l.line)).toString());
  });

  it('fails at open on a log that cannot be read, before any entry', async () => {
    await expect(openK8sLog(dir, { tail: -1, sinceNano: 0n, untilNano: 0n })).rejects.toThrow(/EISDIR/);
    await expect(openK8sLog(dir, { tail: 10, sinceNano: 0n, untilNano: 0n })).rejects.toThrow(/EISDIR/);
  });

  it('reads all, the tail, and a time window', async () => {
    const f = join(dir, 'a.log');
    writeFileSync(f, ROWS.map((r) => `${r}\n`).join(''));
    const text = (ls: LogLine[]) => ls.map((l) => l.line.toString()).join('');
    expect(text(await all(await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n })))).toBe('out 1\nerr 1\npiece-end\n\npartial');
    expect(text(await all(await openK8sLog(f, { tail: 2, sinceNano: 0n, untilNano: 0n })))).toBe('\npartial');
    // conmon's rows of one line (P, then F) are one line to --tail, as the line is to dockerd.
    expect(text(await all(await openK8sLog(f, { tail: 3, sinceNano: 0n, untilNano: 0n })))).toBe('piece-end\n\npartial');
    expect(text(await all(await openK8sLog(f, { tail: 4, sinceNano: 0n, untilNano: 0n })))).toBe('err 1\npiece-end\n\npartial');
    const g = join(dir, 'b.log');
    writeFileSync(g, ROWS.slice(0, 5).map((r) => `${r}\n`).join(''));
    expect(text(await all(await openK8sLog(g, { tail: 2, sinceNano: 0n, untilNano: 0n })))).toBe('piece-end\n\n');
    expect(text(await all(await openK8sLog(g, { tail: 1, sinceNano: 0n, untilNano: 0n })))).toBe('\n');
    expect(text(await all(await openK8sLog(f, { tail: 0, sinceNano: 0n, untilNano: 0n })))).toBe('');
    expect(text(await all(await openK8sLog(f, { tail: 100, sinceNano: 0n, untilNano: 0n })))).toBe('out 1\nerr 1\npiece-end\n\npartial');
    expect(text(await all(await openK8sLog(f, { tail: -1, sinceNano: 1796134608000000001n, untilNano: 1796134608103160230n })))).toBe('piece-end\n\n');
    expect(await all(await openK8sLog(join(dir, 'missing.log'), { tail: -1, sinceNano: 0n, untilNano: 0n }))).toEqual([]);
  });

  it('follows new rows until the writer has ended, then reads what is left', async () => {
    const f = join(dir, 'b.log');
    writeFileSync(f, `${ROWS[0]}\n`);
    let ended = false;
    const it = await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n, follow: { ended: () => ended } });
    const got: string[] = [];
    const done = (async () => {
      for await (const b of it) got.push(...b.map((l) => l.line.toString()));
    })();
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(f, `${ROWS[1]}\n`);
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(f, `${ROWS[3]}\n`);
    ended = true;
    await done;
    expect(got).toEqual(['out 1\n', 'err 1\n', 'end\n']);
  });
});
