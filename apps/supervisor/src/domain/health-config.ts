import { invalidArgument } from '@berth/errors';

/** Engine API HealthConfig: durations in nanoseconds, 0 meaning "inherit" (then Docker's default). */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

const MS = 1e6;
export const HEALTH_DEFAULTS = { intervalNs: 30_000 * MS, timeoutNs: 30_000 * MS, startPeriodNs: 0, retries: 3 };
/** Docker's containertypes.MinimumDuration. */
const MIN_DURATION_NS = MS;

/** dockerd's create-time checks, with its messages (400). */
export function validateHealthcheck(h: HealthConfig | null | undefined): void {
  if (!h) return;
  if (typeof h !== 'object' || Array.isArray(h)) throw invalidArgument('json: cannot unmarshal Config.Healthcheck: expected an object');
  if (h.Test !== undefined && h.Test !== null && !(Array.isArray(h.Test) && h.Test.every((t) => typeof t === 'string'))) {
    throw invalidArgument('json: cannot unmarshal Config.Healthcheck.Test: expected a list of strings');
  }
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) {
    const v = h[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v))) throw invalidArgument(`json: cannot unmarshal Config.Healthcheck.${k}: expected an integer`);
  }
  const tooShort = (v: number | undefined) => v !== undefined && v !== 0 && v < MIN_DURATION_NS;
  if (tooShort(h.Interval)) throw invalidArgument('Interval in Healthcheck cannot be less than 1ms');
  if (tooShort(h.Timeout)) throw invalidArgument('Timeout in Healthcheck cannot be less than 1ms');
  if ((h.Retries ?? 0) < 0) throw invalidArgument('Retries in Healthcheck cannot be negative');
  if (tooShort(h.StartPeriod)) throw invalidArgument('StartPeriod in Healthcheck cannot be less than 1ms');
}

/** Docker's merge with the image's HEALTHCHECK: each unset field comes from the image. */
export function mergeHealthcheck(own: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!own) return image ?? undefined;
  if (!image) return own;
  return {
    ...own,
    Test: own.Test?.length ? own.Test : image.Test,
    Interval: own.Interval || image.Interval,
    Timeout: own.Timeout || image.Timeout,
    StartPeriod: own.StartPeriod || image.StartPeriod,
    Retries: own.Retries || image.Retries,
  };
}

/** A container has health checks when its Test names one (not [] and not NONE). */
export function hasHealthcheck(h: HealthConfig | null | undefined): h is HealthConfig & { Test: string[] } {
  return !!h?.Test?.length && h.Test[0] !== 'NONE';
}

/** The probe's argv: CMD runs its arguments, CMD-SHELL runs through the shell; anything else has no probe. */
export function probeArgv(h: HealthConfig & { Test: string[] }, shell: string[] | null | undefined): string[] | undefined {
  const [kind, ...rest] = h.Test;
  if (kind === 'CMD') return rest.length ? rest : undefined;
  if (kind === 'CMD-SHELL') return [...(shell?.length ? shell : ['/bin/sh', '-c']), rest.join(' ')];
  return undefined;
}

export interface HealthTimings {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
}

export function healthTimings(h: HealthConfig): HealthTimings {
  return {
    intervalMs: (h.Interval || HEALTH_DEFAULTS.intervalNs) / MS,
    timeoutMs: (h.Timeout || HEALTH_DEFAULTS.timeoutNs) / MS,
    startPeriodMs: (h.StartPeriod || HEALTH_DEFAULTS.startPeriodNs) / MS,
    retries: h.Retries && h.Retries > 0 ? h.Retries : HEALTH_DEFAULTS.retries,
  };
}

/** Go's time.Duration.String() for a whole number of milliseconds ("30s", "1.5s", "500ms", "1m30s"). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number(s.toFixed(3))}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}
