import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { LogLine } from '@berth/json-log';
import { openRotatedK8sLog } from './rotated-log';

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotated-log-'));
  log = join(dir, 'c-k8s.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const row = (i: number, tag = 'F') => `2026-12-01T14:16:47.${String(i).padStart(9, '0')}+00:00 stdout ${tag} line-${i}\n`;
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => row(from + k)).join('');
const text = (batches: (Buffer | LogLine[])[]) =>
  batches.map((b) => (Buffer.isBuffer(b) ? b.toString() : b.map((l) => l.line.toString()).join(''))).join('');
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `line-${from + k}\n`).join('');

async function all(it: AsyncGenerator<Buffer | LogLine[]>): Promise<string> {
  const out: (Buffer | LogLine[])[] = [];
  for await (const b of it) out.push(b);
  return text(out);
}

const opts = { tail: -1, sinceNano: 0n, untilNano: 0n };

describe('openRotatedK8sLog', () => {
  it('reads .2, .1 then the live file, in order', async () => {
    writeFileSync(`${log}.2`, rows(0, 10));
    writeFileSync(`${log}.1`, rows(10, 20));
    writeFileSync(log, rows(20, 25));
    expect(await all(await openRotatedK8sLog(log, 3, opts))).toBe(lines(0, 25));
  });

  it('does not look past max-file, and reads a log without rotated files', async () => {
    writeFileSync(`${log}.2`, rows(0, 10));
    writeFileSync(log, rows(10, 12));
    expect(await all(await openRotatedK8sLog(log, 2, opts))).toBe(lines(10, 12));
  });

  it('counts --tail back across files', async () => {
    writeFileSync(`${log}.2`, rows(0, 10));
    writeFileSync(`${log}.1`, rows(10, 20));
    writeFileSync(log, rows(20, 25));
    for (const [n, from] of [[0, 25], [3, 22], [5, 20], [6, 19], [12, 13], [25, 0], [100, 0]] as const) {
      expect(await all(await openRotatedK8sLog(log, 3, { ...opts, tail: n })), `tail ${n}`).toBe(lines(from, 25));
    }
  });

  it('keeps a line split across files (a P row at the end of one) as its bytes', async () => {
    writeFileSync(`${log}.1`, row(0) + row(1, 'P'));
    writeFileSync(log, row(2));
    expect(await all(await openRotatedK8sLog(log, 2, opts))).toBe('line-0\nline-1line-2\n');
  });

  // Bug pinned: a line whose P row ends one file and whose F row starts the next was counted in
  // both files, so --tail gave one line fewer (and --tail 2 the line without its head).
  it('--tail counts a line cut by a rotation once, and gives it whole', async () => {
    writeFileSync(`${log}.2`, row(0) + row(1, 'P'));
    writeFileSync(`${log}.1`, row(2) + row(3) + row(4, 'P') + row(5, 'P'));
    writeFileSync(log, row(6) + row(7));
    const whole = ['line-0\n', 'line-1line-2\n', 'line-3\n', 'line-4line-5line-6\n', 'line-7\n'];
    for (let n = 0; n <= 6; n++) {
      expect(await all(await openRotatedK8sLog(log, 3, { ...opts, tail: n })), `tail ${n}`).toBe(whole.slice(Math.max(0, whole.length - n)).join(''));
    }
  });

  it('--tail 0 gives nothing, even when the live file is empty and the one before ends in a P row', async () => {
    writeFileSync(`${log}.1`, row(0) + row(1, 'P'));
    writeFileSync(log, '');
    expect(await all(await openRotatedK8sLog(log, 2, { ...opts, tail: 0 }))).toBe('');
  });

  it('frames mode gives the same bytes across files', async () => {
    writeFileSync(`${log}.1`, rows(0, 3));
    writeFileSync(log, rows(3, 5));
    const it = await openRotatedK8sLog(log, 2, { ...opts, frames: { merge: true, raw: true, stdout: true, stderr: true } });
    expect(await all(it)).toBe(lines(0, 5));
  });

  it('follows the live file across a rotation with nothing lost or doubled', async () => {
    writeFileSync(log, rows(0, 5));
    let done = false;
    const it = await openRotatedK8sLog(log, 3, { ...opts, follow: { ended: () => done } });
    const got: (Buffer | LogLine[])[] = [];
    const reading = (async () => {
      for await (const b of it) got.push(b);
    })();
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(log, rows(5, 8));
    // What the monitor does: rename, then conmon writes its last rows into the old file and opens a new one.
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, rows(8, 10));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(log, rows(10, 12));
    await new Promise((r) => setTimeout(r, 300));
    renameSync(`${log}.1`, `${log}.2`);
    renameSync(log, `${log}.1`);
    writeFileSync(log, rows(12, 15));
    await new Promise((r) => setTimeout(r, 300));
    done = true;
    await reading;
    expect(text(got)).toBe(lines(0, 15));
  });

  // Bug pinned: conmon's new file is at the path a moment before the rotator's notice; a follower
  // that saw it in that moment took it for the exit's cut and ended while the container wrote on.
  it('a follower that sees the new file before the rotator tells of it goes on to it', async () => {
    writeFileSync(log, rows(0, 3));
    let done = false;
    const silent = () => () => undefined;
    const it = await openRotatedK8sLog(log, 3, { ...opts, follow: { ended: () => done } }, silent);
    const got: (Buffer | LogLine[])[] = [];
    const reading = (async () => {
      for await (const b of it) got.push(b);
    })();
    await new Promise((r) => setTimeout(r, 300));
    renameSync(log, `${log}.rotating`);
    writeFileSync(log, rows(3, 6));
    await new Promise((r) => setTimeout(r, 500));
    done = true;
    await reading;
    expect(text(got)).toBe(lines(0, 6));
  });

  it('a follower that comes before the log waits for it, then follows it across a rotation', async () => {
    let done = false;
    const it = await openRotatedK8sLog(log, 1, { ...opts, fromOffset: 0, follow: { ended: () => done } });
    const got: (Buffer | LogLine[])[] = [];
    const reading = (async () => {
      for await (const b of it) got.push(b);
    })();
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(log, rows(0, 3));
    await new Promise((r) => setTimeout(r, 300));
    renameSync(log, `${log}.1`);
    writeFileSync(log, rows(3, 4));
    // max-file 1: the rotated file goes at once; the follower has it open.
    rmSync(`${log}.1`);
    await new Promise((r) => setTimeout(r, 300));
    done = true;
    await reading;
    expect(text(got)).toBe(lines(0, 4));
  });

  it('a live attach starts at the offset it took of the live file', async () => {
    writeFileSync(`${log}.1`, rows(0, 5));
    writeFileSync(log, rows(5, 8));
    const from = rows(5, 7).length;
    expect(await all(await openRotatedK8sLog(log, 2, { ...opts, fromOffset: from }))).toBe(lines(7, 8));
  });

  it('a log that cannot be read fails the call', async () => {
    const d = join(dir, 'd');
    mkdirSync(d);
    await expect(openRotatedK8sLog(d, 2, opts)).rejects.toThrow();
  });

  describe('compressed rotated files (.N.gz)', () => {
    it('reads .2.gz, .1.gz then the live file; --tail counts back across them', async () => {
      writeFileSync(`${log}.2.gz`, gzipSync(rows(0, 10)));
      writeFileSync(`${log}.1.gz`, gzipSync(rows(10, 20)));
      writeFileSync(log, rows(20, 25));
      expect(await all(await openRotatedK8sLog(log, 3, opts))).toBe(lines(0, 25));
      for (const [n, from] of [[0, 25], [5, 20], [6, 19], [12, 13], [100, 0]] as const) {
        expect(await all(await openRotatedK8sLog(log, 3, { ...opts, tail: n })), `tail ${n}`).toBe(lines(from, 25));
      }
      expect(await all(await openRotatedK8sLog(log, 3, { ...opts, frames: { merge: true, raw: true, stdout: true, stderr: true } }))).toBe(lines(0, 25));
    });

    it('a .1 whose compression is renamed in but not yet removed is read once', async () => {
      writeFileSync(`${log}.2.gz`, gzipSync(rows(0, 10)));
      writeFileSync(`${log}.1`, rows(10, 20));
      writeFileSync(`${log}.1.gz`, gzipSync(rows(10, 20)));
      writeFileSync(log, rows(20, 25));
      expect(await all(await openRotatedK8sLog(log, 3, opts))).toBe(lines(0, 25));
    });

    it('--tail within the live file does not inflate the compressed ones', async () => {
      // Not gzip: a read that inflated it would fail.
      writeFileSync(`${log}.1.gz`, rows(0, 10));
      writeFileSync(log, rows(10, 15));
      expect(await all(await openRotatedK8sLog(log, 2, { ...opts, tail: 3 }))).toBe(lines(12, 15));
    });

    it('a .gz that is not gzip fails the call', async () => {
      writeFileSync(`${log}.1.gz`, rows(0, 10));
      writeFileSync(log, rows(10, 12));
      await expect(openRotatedK8sLog(log, 2, opts)).rejects.toThrow(/header|gzip/i);
    });
  });
});
