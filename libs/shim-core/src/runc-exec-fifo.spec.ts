import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startThroughExecFifo } from './runc-exec-fifo';

// A shell stands in for runc init: it opens the FIFO's writing end (blocking until a reader
// comes), writes its byte, and ends. Real containers go through this in every integration test.
let root: string;
const id = 'c1';
const fifo = () => join(root, id, 'exec.fifo');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'runc-fifo-'));
  mkdirSync(join(root, id));
  writeFileSync(join(root, id, 'state.json'), '{}');
  execFileSync('mkfifo', [fifo()]);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('startThroughExecFifo', () => {
  it('lets a waiting init go and removes the FIFO, as runc start does', async () => {
    const init = spawn('sh', ['-c', `printf 0 > ${fifo()}; sleep 5`], { stdio: 'ignore' });
    try {
      expect(await startThroughExecFifo(root, id, init.pid!)).toBe(true);
      expect(existsSync(fifo())).toBe(false);
    } finally {
      init.kill('SIGKILL');
    }
  });

  it('rejects, instead of waiting forever, when the init is gone before it opened its end', async () => {
    const init = spawn('true');
    await new Promise((r) => init.once('exit', r));
    await expect(startThroughExecFifo(root, id, init.pid!)).rejects.toThrow(/stopped/);
    expect(existsSync(fifo())).toBe(true);
  });

  it('leaves what is not a created runc container to the runtime', async () => {
    rmSync(fifo());
    expect(await startThroughExecFifo(root, id, process.pid)).toBe(false);
    rmSync(join(root, id, 'state.json'));
    execFileSync('mkfifo', [fifo()]);
    expect(await startThroughExecFifo(root, id, process.pid)).toBe(false);
  });
});
