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
    const rows = [...ROWS.slice(0, 5), 'garbage', '2026-12-01T14:16:48Z stdin F x', ' stdout F no time', '2026-12-01T14:16:48Z stderr Fx', ROWS[5]!];
    writeFileSync(f, rows.map((r) => `${r}\n`).join(''));
    const lines = await all(await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n }));
    expect(lines.length).toBe(8);
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

  it('reads all, the tail, and a time window', async () => {
    const f = join(dir, 'a.log');
    writeFileSync(f, ROWS.map((r) => `${r}\n`).join(''));
    const text = (ls: LogLine[]) => ls.map((l) => l.line.toString()).join('');
    expect(text(await all(await openK8sLog(f, { tail: -1, sinceNano: 0n, untilNano: 0n })))).toBe('out 1\nerr 1\npiece-end\n\npartial');
    expect(text(await all(await openK8sLog(f, { tail: 2, sinceNano: 0n, untilNano: 0n })))).toBe('\npartial');
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
