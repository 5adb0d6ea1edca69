import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { socketAnswers } from '@berth/grpc';
import { tryLockPath } from '@berth/sys';

export type StateClaim = { owner: 'us'; fd: number } | { owner: 'other'; pid: string };

/**
 * Makes this process the one monitor of `stateDir`: two would adopt the same containers, watch
 * the same conmon and take each other's sockets. Resolves 'us' once its lock is ours (keep the fd
 * open for the life of the process), 'other' once the holder's `socket` answers. The holder may
 * still be recovering its containers, or exiting idle (its lock is then ours soon), so both are
 * polled until `waitMs`; a holder that neither answers nor lets go by then is an error.
 */
export async function claimStateDir(stateDir: string, socket: string, waitMs: number): Promise<StateClaim> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, 'monitor.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    const fd = tryLockPath(path);
    if (fd !== null) return { owner: 'us', fd };
    if (await socketAnswers(socket)) return { owner: 'other', pid: holderPid(path) };
    if (Date.now() > deadline) throw new Error(`monitor ${holderPid(path)} holds ${path} but does not answer on ${socket} after ${waitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function holderPid(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}
