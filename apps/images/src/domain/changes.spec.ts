import { describe, expect, it } from 'vitest';
import { applyChanges } from './changes';

describe('--change HEALTHCHECK', () => {
  it('takes the shell form, the exec form, options and NONE', () => {
    expect(applyChanges({}, ['HEALTHCHECK --interval=1s --timeout=500ms --start-period=1m30s --retries=4 CMD wget -q localhost || exit 1']).Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'wget -q localhost || exit 1'],
      Interval: 1e9,
      Timeout: 5e8,
      StartPeriod: 90e9,
      Retries: 4,
    });
    expect(applyChanges({}, ['HEALTHCHECK CMD ["true", "x"]']).Healthcheck).toEqual({ Test: ['CMD', 'true', 'x'] });
    expect(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('refuses what Docker refuses', () => {
    expect(() => applyChanges({}, ['HEALTHCHECK RUN true'])).toThrow('Unknown type "RUN" in HEALTHCHECK (try CMD)');
    expect(() => applyChanges({}, ['HEALTHCHECK --interval=fast CMD true'])).toThrow('time: invalid duration "fast"');
    expect(applyChanges({}, ['HEALTHCHECK --timeout=1.5s CMD true']).Healthcheck!.Timeout).toBe(1.5e9);
  });
});
