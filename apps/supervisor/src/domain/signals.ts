import { constants } from 'node:os';
import { invalidArgument } from '@berth/errors';

const SIGNALS = constants.signals as Record<string, number>;

/** Parses "SIGTERM", "TERM", "term" or "15" the way Docker accepts them. */
export function parseSignal(s: string | undefined, fallback = 'SIGTERM'): number {
  const raw = (s && s !== '' ? s : fallback).trim();
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n < 1 || n > 64) throw invalidArgument(`Invalid signal: ${raw}`);
    return n;
  }
  const up = raw.toUpperCase();
  const n = SIGNALS[up.startsWith('SIG') ? up : `SIG${up}`];
  if (n === undefined) throw invalidArgument(`Invalid signal: ${raw}`);
  return n;
}
