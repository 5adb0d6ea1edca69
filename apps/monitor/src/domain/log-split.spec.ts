import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { finishSplit, type LogLine, splitOverSize } from '@berth/json-log';
import { openRotatedK8sLog } from './rotated-log';

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'log-split-'));
  log = join(dir, 'c-k8s.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// Every row has the same length: `<35-byte time> stdout F line-NNNNNN\n`.
const row = (i: number, tag = 'F') => `2026-12-01T14:16:47.${String(i).padStart(9, '0')}+00:00 stdout ${tag} line-${String(i).padStart(6, '0')}\n`;
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => row(from + k)).join('');
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `line-${String(from + k).padStart(6, '0')}\n`).join('');
const ROW = row(0).length;

async function readAll(maxFile: number, tail = -1): Promise<string> {
  let out = '';
  for await (const b of await openRotatedK8sLog(log, maxFile, { tail, sinceNano: 0n, untilNano: 0n })) {
    out += Buffer.isBuffer(b) ? b.toString() : (b as LogLine[]).map((l) => l.line.toString()).join('');
  }
  return out;
}
const names = () => readdirSync(dir).sort();

describe('splitOverSize', () => {
  it('cuts where dockerd would have: rows until a file holds max-size, the newest max-file pieces kept', async () => {
    // max-size a little under 10 rows: a file takes 10 rows (the 10th gets it past), so ten pieces; three kept.
    writeFileSync(log, rows(0, 100));
    expect(await splitOverSize(log, 10 * ROW - 20, 3)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(70, 80));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(80, 90));
    expect(readFileSync(log, 'utf8')).toBe(rows(90, 100));
    expect(await readAll(3)).toBe(lines(70, 100));
  });

  it('moves the rotated files up by the pieces kept and drops those past max-file', async () => {
    writeFileSync(`${log}.3`, rows(0, 10));
    writeFileSync(`${log}.2`, rows(10, 20));
    writeFileSync(`${log}.1`, rows(20, 30));
    // Two pieces: 10 rows, then 5.
    writeFileSync(log, rows(30, 45));
    expect(await splitOverSize(log, 10 * ROW, 4)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2', 'c-k8s.log.3']);
    expect(readFileSync(`${log}.3`, 'utf8')).toBe(rows(10, 20));
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(20, 30));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(30, 40));
    expect(await readAll(4)).toBe(lines(10, 45));
  });

  // Bug pinned: a rotation that came late in a burst left `.1` far past max-size, the live file
  // under it; the cut at the exit looked at the live file only, and the files were not dockerd's.
  it('a .1 that a late rotation left past max-size is cut with the live file, as one stream', async () => {
    writeFileSync(`${log}.2`, rows(0, 10));
    writeFileSync(`${log}.1`, rows(10, 45));
    writeFileSync(log, rows(45, 48));
    expect(await splitOverSize(log, 10 * ROW, 3)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(20, 30));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(30, 40));
    expect(readFileSync(log, 'utf8')).toBe(rows(40, 48));
    expect(await readAll(3)).toBe(lines(20, 48));
  });

  it('with .1 cut into three pieces, the older files move up by one and the top one goes', async () => {
    writeFileSync(`${log}.3`, rows(0, 10));
    writeFileSync(`${log}.2`, rows(10, 20));
    writeFileSync(`${log}.1`, rows(20, 45));
    writeFileSync(log, rows(45, 47));
    expect(await splitOverSize(log, 10 * ROW, 4)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2', 'c-k8s.log.3']);
    expect(readFileSync(`${log}.3`, 'utf8')).toBe(rows(10, 20));
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(20, 30));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(30, 40));
    expect(readFileSync(log, 'utf8')).toBe(rows(40, 47));
  });

  it('max-file 1 keeps the newest piece only; a row with no newline stays in the last piece', async () => {
    writeFileSync(log, rows(0, 25) + row(25).slice(0, 20));
    expect(await splitOverSize(log, 10 * ROW, 1)).toBe(true);
    expect(names()).toEqual(['c-k8s.log']);
    expect(readFileSync(log, 'utf8')).toBe(rows(20, 25) + row(25).slice(0, 20));
  });

  it('leaves a file under max-size, or one that is a single piece, as it is', async () => {
    writeFileSync(log, rows(0, 5));
    expect(await splitOverSize(log, 10 * ROW, 3)).toBe(false);
    // Past max-size by its last row only: dockerd rotates before the next write, and none came.
    writeFileSync(log, rows(0, 10));
    const ino = statSync(log).ino;
    expect(await splitOverSize(log, 10 * ROW - 1, 3)).toBe(false);
    expect(statSync(log).ino).toBe(ino);
    expect(await splitOverSize(join(dir, 'absent'), 10, 3)).toBe(false);
  });

  it('a row longer than max-size ends the file it lands in, whole', async () => {
    const long = `2026-12-01T14:16:47.000000002+00:00 stdout F ${'x'.repeat(300)}\n`;
    writeFileSync(log, rows(0, 2) + long + rows(3, 5));
    expect(await splitOverSize(log, 2 * ROW + 20, 5)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1']);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(0, 2) + long);
    expect(readFileSync(log, 'utf8')).toBe(rows(3, 5));
  });

  it('many pieces of a big file: only the newest are written', async () => {
    // 20000 rows (1 MB) cut at 2 rows a piece: ten thousand pieces, four kept.
    writeFileSync(log, rows(0, 20_000));
    expect(await splitOverSize(log, 2 * ROW, 4)).toBe(true);
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2', 'c-k8s.log.3']);
    expect(await readAll(4)).toBe(lines(19_992, 20_000));
  });

  // Bug pinned: a SIGKILL between the split's renames must leave files that a monitor started again
  // finishes, with no row lost or read twice. Each step on disk is a point a kill can stop at.
  it.each([
    { name: 'the live file', rotated: rows(10, 20), live: rows(20, 50), want: lines(10, 50) },
    { name: 'a .1 past max-size and the live file', rotated: rows(10, 35), live: rows(35, 38), want: lines(0, 38) },
  ])('stopped after any step of a cut of $name, a monitor started again finishes it with every row once', async ({ rotated, live, want: wantText }) => {
    const setup = () => {
      for (const f of readdirSync(dir)) rmSync(join(dir, f));
      writeFileSync(`${log}.2`, rows(0, 10));
      writeFileSync(`${log}.1`, rotated);
      writeFileSync(log, live);
    };
    setup();
    await splitOverSize(log, 10 * ROW, 4);
    const want = { names: names(), text: await readAll(4) };
    expect(want.text).toBe(wantText);
    let steps = 0;
    for (let stopAt = 1; ; stopAt++) {
      setup();
      let seen = 0;
      const stop = (step: string) => {
        if (++seen === stopAt) throw new Error(`killed after ${step}`);
      };
      const killed = await splitOverSize(log, 10 * ROW, 4, { step: stop }).then(
        () => false,
        () => true,
      );
      if (!killed) break;
      steps++;
      // What the monitor started again does: finish a journalled split, else drop its pieces and split again.
      finishSplit(log);
      await splitOverSize(log, 10 * ROW, 4);
      expect(names(), `stopped at step ${stopAt}`).toEqual(want.names);
      expect(await readAll(4), `stopped at step ${stopAt}`).toBe(want.text);
      expect(existsSync(`${log}.split`)).toBe(false);
    }
    // Three pieces written, the journal, two old files moved (one dropped), three pieces renamed.
    expect(steps).toBeGreaterThanOrEqual(8);
  });

  it('a kill during the renames, finished again from the journal more than once, stays right', async () => {
    writeFileSync(`${log}.1`, rows(0, 10));
    writeFileSync(log, rows(10, 40));
    await splitOverSize(log, 10 * ROW, 3, {
      step: (s) => {
        if (s === 'piece 1') throw new Error('killed');
      },
    }).catch(() => undefined);
    expect(existsSync(`${log}.split`)).toBe(true);
    expect(finishSplit(log)).toBe(true);
    expect(finishSplit(log)).toBe(false);
    expect(await readAll(3)).toBe(lines(10, 40));
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
  });
});
