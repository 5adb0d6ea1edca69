import { describe, expect, it } from 'vitest';
import { DEFAULT_PREPARED_TTL_MS, preparedTtlMs } from './conmon-container';

describe('preparedTtlMs (BERTH_MONITOR_PREPARED_TTL_MS)', () => {
  it('takes a positive number of milliseconds', () => {
    expect(preparedTtlMs('1500')).toBe(1500);
  });

  it('keeps the default when unset, empty, not a number, zero or negative', () => {
    for (const v of [undefined, '', ' ', 'soon', '0', '-5', 'Infinity']) expect(preparedTtlMs(v), String(v)).toBe(DEFAULT_PREPARED_TTL_MS);
  });
});
