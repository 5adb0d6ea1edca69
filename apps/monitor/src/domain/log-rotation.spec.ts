import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressRotated, type LogLine } from '@berth/json-log';
import type { Logger } from '@berth/logging';
import { LogRotator } from './log-rotation';
import { openRotatedK8sLog } from './rotated-log';

let dir: string;
let log: string;
let ctl: string;
const rotators: LogRotator[] = [];
const fds: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'log-rotation-'));
  log = join(dir, 'c-k8s.log');
  ctl = join(dir, 'ctl');
});
afterEach(() => {
  for (const r of rotators.splice(0)) r.stop();
  for (const fd of fds.splice(0)) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { warn: () => undefined } as unknown as Logger;
const row = (i: number) => `2026-12-01T14:16:47.${String(i).padStart(9, '0')}+00:00 stdout F line-${String(i).padStart(6, '0')}\n`;
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => row(from + k)).join('');
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `line-${String(from + k).padStart(6, '0')}\n`).join('');
const ROW = row(0).length;
const names = () => readdirSync(dir).filter((f) => f.startsWith('c-k8s.log')).sort();

function rotator(maxSize: number, maxFile: number, compress = false): LogRotator {
  const r = new LogRotator(log, ctl, maxSize, maxFile, quiet, compress);
  rotators.push(r);
  return r;
}

/** Polls until `ok` (a check that never comes true fails the test by its timeout, not by a time). */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}

/** conmon's side of the ctl FIFO: a reopen message (`2 0 0`) makes a new empty file at the path. */
function fakeConmon(): { stop: () => void } {
  execFileSync('mkfifo', [ctl]);
  const fd = openSync(ctl, constants.O_RDWR | constants.O_NONBLOCK);
  fds.push(fd);
  const buf = Buffer.alloc(64);
  const t = setInterval(() => {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (buf.subarray(0, n).toString().includes('2 0 0\n')) writeFileSync(log, '');
    } catch {
      // EAGAIN: nothing sent
    }
  }, 2);
  return { stop: () => clearInterval(t) };
}

async function text(it: AsyncGenerator<Buffer | LogLine[]>): Promise<string> {
  let out = '';
  for await (const b of it) out += Buffer.isBuffer(b) ? b.toString() : b.map((l) => l.line.toString()).join('');
  return out;
}

describe('LogRotator', () => {
  it('rotates past max-size: the old files move up only once conmon has its new file', async () => {
    const conmon = fakeConmon();
    writeFileSync(`${log}.1`, rows(0, 10));
    writeFileSync(log, rows(10, 30));
    const r = rotator(10 * ROW, 3);
    r.start();
    await until(() => existsSync(`${log}.2`));
    conmon.stop();
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(0, 10));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(10, 30));
    expect(readFileSync(log, 'utf8')).toBe('');
  });

  // Bug pinned: the rename to `.1` replaced the old `.1` (max-file 2) before conmon's reopen; an
  // exit in between then renamed the file back and the old `.1` was gone, where dockerd keeps it.
  it('a rotation the exit cuts short is undone with every rotated file kept', async () => {
    writeFileSync(`${log}.1`, rows(0, 10));
    // Past max-size by its last row only: one piece, nothing to cut after the exit.
    writeFileSync(log, rows(10, 20));
    // No FIFO: conmon is gone, the reopen cannot be sent.
    const r = rotator(10 * ROW - 5, 2);
    r.start();
    await until(() => !existsSync(log));
    await r.settle();
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1']);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(rows(0, 10));
    expect(readFileSync(log, 'utf8')).toBe(rows(10, 20));
  });

  it('a monitor started again after a kill between the reopen and the move to .1 does the move', async () => {
    const conmon = fakeConmon();
    writeFileSync(`${log}.1`, rows(0, 10));
    writeFileSync(`${log}.rotating`, rows(10, 20));
    writeFileSync(log, rows(20, 21));
    rotator(10 * ROW, 3).start();
    await until(() => existsSync(`${log}.2`));
    conmon.stop();
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
    expect(await text(await openRotatedK8sLog(log, 3, { tail: -1, sinceNano: 0n, untilNano: 0n }))).toBe(lines(0, 21));
  });

  // Bug pinned: a burst that ended (and conmon with it) before the first check left one file past
  // max-size; dockerd would have cut it into max-file files of max-size.
  it('after the exit, a live file past max-size is cut as dockerd would; followers read every row once', async () => {
    const r = rotator(10 * ROW - 5, 3);
    let done = false;
    const follow = { tail: -1, sinceNano: 0n, untilNano: 0n, fromOffset: 0, follow: { ended: () => done } };
    // One attached before the log exists (still waiting for its first file at the exit), one that has it open.
    const early = await openRotatedK8sLog(log, 3, follow, r.onRotate);
    writeFileSync(log, rows(10, 100));
    const holding = await openRotatedK8sLog(log, 3, follow, r.onRotate);
    await r.settle();
    done = true;
    expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1', 'c-k8s.log.2']);
    expect(readFileSync(`${log}.2`, 'utf8')).toBe(rows(70, 80));
    expect(readFileSync(log, 'utf8')).toBe(rows(90, 100));
    expect(await text(early)).toBe(lines(10, 100));
    expect(await text(holding)).toBe(lines(10, 100));
    expect(await text(await openRotatedK8sLog(log, 3, { tail: -1, sinceNano: 0n, untilNano: 0n }))).toBe(lines(70, 100));
    expect(await text(await openRotatedK8sLog(log, 3, { tail: 15, sinceNano: 0n, untilNano: 0n }))).toBe(lines(85, 100));
  });

  describe('compress=true', () => {
    const gunzipped = (f: string) => gunzipSync(readFileSync(f)).toString();

    it('each rotated file becomes .N.gz, the shift moves them, the current file stays plain', async () => {
      const conmon = fakeConmon();
      writeFileSync(`${log}.1.gz`, gzipSync(rows(0, 10)));
      writeFileSync(log, rows(10, 30));
      const r = rotator(10 * ROW, 3, true);
      r.start();
      await until(() => existsSync(`${log}.1.gz`) && existsSync(`${log}.2.gz`) && !existsSync(`${log}.1`));
      writeFileSync(log, rows(30, 50));
      await until(() => gunzipped(`${log}.2.gz`) === rows(10, 30) && existsSync(`${log}.1.gz`) && !existsSync(`${log}.1`));
      conmon.stop();
      await r.settle();
      expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1.gz', 'c-k8s.log.2.gz']);
      expect(gunzipped(`${log}.1.gz`)).toBe(rows(30, 50));
      expect(readFileSync(log, 'utf8')).toBe('');
      expect(await text(await openRotatedK8sLog(log, 3, { tail: -1, sinceNano: 0n, untilNano: 0n }))).toBe(lines(10, 50));
      expect(await text(await openRotatedK8sLog(log, 3, { tail: 25, sinceNano: 0n, untilNano: 0n }))).toBe(lines(25, 50));
    });

    // A kill after each step of the compression: the monitor started again ends with `.1.gz` only, every row once.
    for (const at of ['before', 'written', 'renamed'] as const) {
      it(`a monitor killed ${at === 'before' ? 'before the compression' : `after the compression is ${at}`} finishes it when started again`, async () => {
        writeFileSync(`${log}.2.gz`, gzipSync(rows(0, 10)));
        writeFileSync(`${log}.1`, rows(10, 20));
        writeFileSync(log, rows(20, 22));
        if (at !== 'before') {
          await compressRotated(log, 1, (step) => {
            if (step === at) throw new Error('killed');
          }).catch(() => undefined);
          // A kill in the middle of the write: a partial gzip under the temporary name.
          if (at === 'written') writeFileSync(`${log}.1.gz.tmp`, gzipSync(rows(10, 15)).subarray(0, 20));
        }
        const r = rotator(10 * ROW, 3, true);
        r.start();
        await until(() => !existsSync(`${log}.1`) && !existsSync(`${log}.1.gz.tmp`) && existsSync(`${log}.1.gz`));
        await r.settle();
        expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1.gz', 'c-k8s.log.2.gz']);
        expect(gunzipped(`${log}.1.gz`)).toBe(rows(10, 20));
        expect(await text(await openRotatedK8sLog(log, 3, { tail: -1, sinceNano: 0n, untilNano: 0n }))).toBe(lines(0, 22));
      });
    }

    it('after the exit, the cut of an over-size file is compressed and the old .N.gz move up', async () => {
      writeFileSync(`${log}.1.gz`, gzipSync(rows(0, 10)));
      writeFileSync(log, rows(10, 30));
      const r = rotator(10 * ROW - 5, 4, true);
      await r.settle();
      expect(names()).toEqual(['c-k8s.log', 'c-k8s.log.1.gz', 'c-k8s.log.2.gz']);
      expect(gunzipped(`${log}.2.gz`)).toBe(rows(0, 10));
      expect(gunzipped(`${log}.1.gz`)).toBe(rows(10, 20));
      expect(readFileSync(log, 'utf8')).toBe(rows(20, 30));
      expect(await text(await openRotatedK8sLog(log, 4, { tail: 15, sinceNano: 0n, untilNano: 0n }))).toBe(lines(15, 30));
    });
  });
});
