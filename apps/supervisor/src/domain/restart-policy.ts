import { invalidArgument } from '@berth/errors';
import type { RestartPolicy } from './model';

export const RESTART_BACKOFF_BASE_MS = 100;
export const RESTART_BACKOFF_MAX_MS = 60_000;
/** A container that ran this long before exiting is healthy again: its backoff starts over. */
export const RESTART_RESET_AFTER_MS = 10_000;

export function validateRestartPolicy(p: RestartPolicy | undefined, autoRemove: boolean): void {
  const name = p?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) {
    throw invalidArgument(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if ((p?.MaximumRetryCount ?? 0) < 0) throw invalidArgument('invalid restart policy: maximum retry count cannot be negative');
  if (name !== 'on-failure' && (p?.MaximumRetryCount ?? 0) > 0) {
    throw invalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (autoRemove && name !== '' && name !== 'no') throw invalidArgument(`can't create 'AutoRemove' container with restart policy`);
}

/** Docker's decision after an exit: restart unless stopped by hand, or out of retries for on-failure. */
export function shouldRestart(p: RestartPolicy | undefined, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (p?.Name ?? '') {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      const max = p?.MaximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default:
      return false;
  }
}

export function restartDelayMs(previousDelayMs: number, ranMs: number): number {
  if (ranMs >= RESTART_RESET_AFTER_MS || previousDelayMs === 0) return RESTART_BACKOFF_BASE_MS;
  return Math.min(previousDelayMs * 2, RESTART_BACKOFF_MAX_MS);
}
