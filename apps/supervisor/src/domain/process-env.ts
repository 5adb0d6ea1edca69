import { mergeEnv } from './create-config';

/** What a Linux container's PATH is when neither the image nor `-e` gives one (Docker's). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The process environment as dockerd builds it: its own defaults (PATH, HOSTNAME, TERM=xterm
 * with a TTY), then link variables, then the container's Env, each replacing same-named ones.
 * Only the process sees the defaults; the container's `Config.Env` stays what was asked for.
 */
export function daemonEnv(opts: { tty: boolean; hostname: string; links?: string[]; env: string[] }): string[] {
  const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${opts.hostname}`, ...(opts.tty ? ['TERM=xterm'] : [])];
  return mergeEnv(mergeEnv(defaults, opts.links ?? []), opts.env);
}

/**
 * An exec's environment: the container process's own (defaults and links included), with TERM
 * following the exec's TTY rather than the container's, then the exec's Env on top.
 */
export function execEnv(containerProcessEnv: string[], containerEnv: string[], tty: boolean, own: string[]): string[] {
  const userTerm = containerEnv.some((e) => e === 'TERM' || e.startsWith('TERM='));
  let base = userTerm ? containerProcessEnv : containerProcessEnv.filter((e) => e !== 'TERM=xterm');
  if (tty && !userTerm) base = mergeEnv(base, ['TERM=xterm']);
  if (!base.some((e) => e.startsWith('PATH='))) base = [DEFAULT_PATH_ENV, ...base];
  return mergeEnv(base, own);
}
