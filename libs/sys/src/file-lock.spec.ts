import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tryLockPath } from './file-lock';

const dirs: string[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lockPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flock-'));
  dirs.push(dir);
  return join(dir, 'x.lock');
}

describe('tryLockPath', () => {
  it('takes the lock once; a second open file description is refused until the first closes', () => {
    const path = lockPath();
    const fd = tryLockPath(path);
    expect(fd).not.toBeNull();
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    // flock conflicts between open file descriptions, even within one process.
    expect(tryLockPath(path)).toBeNull();
    closeSync(fd!);
    const again = tryLockPath(path);
    expect(again).not.toBeNull();
    fds.push(again!);
  });

  it('is not inherited by an exec’d child, so a child left running does not keep it', async () => {
    const path = lockPath();
    const fd = tryLockPath(path)!;
    fds.push(fd);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      // Once exec'd (its comm is sleep), the child's fds are final.
      for (let i = 0; i < 100 && readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await new Promise((r) => setTimeout(r, 10));
      const open = readdirSync(`/proc/${child.pid}/fd`).map((n) => {
        try {
          return readlinkSync(`/proc/${child.pid}/fd/${n}`);
        } catch {
          return '';
        }
      });
      expect(open).not.toContain(path);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is freed by the death of its holder, SIGKILL included', async () => {
    const path = lockPath();
    // Another process takes it the same way (flock on a file it opened), then says so.
    const script = `const fd = require('node:fs').openSync(${JSON.stringify(path)}, 'a');
      if (require('koffi').load('libc.so.6').func('int flock(int, int)')(fd, 6) !== 0) process.exit(1);
      process.stdout.write('locked'); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => holder.stdout.once('data', r));
      expect(tryLockPath(path)).toBeNull();
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise((r) => holder.once('exit', r));
    const fd = tryLockPath(path);
    expect(fd).not.toBeNull();
    fds.push(fd!);
  });
});
