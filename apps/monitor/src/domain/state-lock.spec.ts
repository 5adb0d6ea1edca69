import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLockPath } from '@berth/sys';
import { afterEach, describe, expect, it } from 'vitest';
import { claimStateDir } from './state-lock';

const dirs: string[] = [];
const fds: number[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh exec root whose monitor state dir is held by another "monitor" (an open file description here). */
async function holdState(): Promise<{ state: string; socket: string; holder: number }> {
  const root = mkdtempSync(join(tmpdir(), 'state-lock-'));
  dirs.push(root);
  const state = join(root, 'monitor');
  const socket = join(root, 'monitor.sock');
  const claim = await claimStateDir(state, socket, 0);
  if (claim.owner !== 'us') throw new Error('fixture: state not free');
  return { state, socket, holder: claim.fd };
}

function listen(socket: string): void {
  const s = createServer((c) => c.destroy());
  servers.push(s);
  s.listen(socket);
}

describe('claimStateDir', () => {
  it('an empty state dir is ours, with our pid in its lock', async () => {
    const h = await holdState();
    fds.push(h.holder);
    expect(tryLockPath(join(h.state, 'monitor.lock'))).toBeNull();
  });

  it('held by a monitor that answers: the other one’s, with its pid', async () => {
    const h = await holdState();
    fds.push(h.holder);
    listen(h.socket);
    await expect(claimStateDir(h.state, h.socket, 5_000)).resolves.toEqual({ owner: 'other', pid: String(process.pid) });
  });

  it('held by a monitor that lets go (exiting idle) before answering: ours', async () => {
    const h = await holdState();
    setTimeout(() => closeSync(h.holder), 300);
    const claim = await claimStateDir(h.state, h.socket, 5_000);
    expect(claim.owner).toBe('us');
    if (claim.owner === 'us') fds.push(claim.fd);
  });

  it('held by a monitor that neither answers nor lets go: an error at the deadline', async () => {
    const h = await holdState();
    fds.push(h.holder);
    await expect(claimStateDir(h.state, h.socket, 300)).rejects.toThrow(/holds .*monitor.lock but does not answer/);
  });
});
