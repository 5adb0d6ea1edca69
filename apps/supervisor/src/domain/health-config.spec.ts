import { describe, expect, it } from 'vitest';
import { goDuration, healthTimings, mergeHealthcheck, probeArgv, validateHealthcheck } from './health-config';

describe('health check config', () => {
  it('refuses what dockerd refuses, with its messages', () => {
    expect(() => validateHealthcheck({ Interval: -1 })).toThrow('Interval in Healthcheck cannot be less than 1ms');
    expect(() => validateHealthcheck({ Interval: 999_999 })).toThrow('Interval in Healthcheck cannot be less than 1ms');
    expect(() => validateHealthcheck({ Timeout: 5 })).toThrow('Timeout in Healthcheck cannot be less than 1ms');
    expect(() => validateHealthcheck({ StartPeriod: -5 })).toThrow('StartPeriod in Healthcheck cannot be less than 1ms');
    expect(() => validateHealthcheck({ Retries: -1 })).toThrow('Retries in Healthcheck cannot be negative');
    expect(() => validateHealthcheck({ Test: 'true' as unknown as string[] })).toThrow(/Healthcheck.Test/);
    expect(() => validateHealthcheck({ Interval: 0, Timeout: 1_000_000, Retries: 0 })).not.toThrow();
  });

  it('takes unset fields from the image and applies Docker defaults', () => {
    const m = mergeHealthcheck({ Interval: 2e9 }, { Test: ['CMD', 'true'], Retries: 5, Interval: 9e9 })!;
    expect(m).toMatchObject({ Test: ['CMD', 'true'], Interval: 2e9, Retries: 5 });
    expect(healthTimings({ Test: ['CMD', 'x'] })).toEqual({ intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 });
  });

  it('runs CMD directly, CMD-SHELL through the shell, and NONE not at all', () => {
    expect(probeArgv({ Test: ['CMD', 'ls', '-l'] }, null)).toEqual(['ls', '-l']);
    expect(probeArgv({ Test: ['CMD-SHELL', 'exit 1'] }, null)).toEqual(['/bin/sh', '-c', 'exit 1']);
    expect(probeArgv({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-c'])).toEqual(['/bin/bash', '-c', 'x']);
    expect(probeArgv({ Test: ['WHAT', 'x'] }, null)).toBeUndefined();
  });

  it("prints durations as Go's Duration.String does", () => {
    expect(goDuration(30_000)).toBe('30s');
    expect(goDuration(1500)).toBe('1.5s');
    expect(goDuration(500)).toBe('500ms');
    expect(goDuration(90_000)).toBe('1m30s');
    expect(goDuration(7_200_000)).toBe('2h0m0s');
  });
});
