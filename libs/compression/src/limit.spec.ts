import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { expandedLimitBytes } from './limit';

describe('expandedLimitBytes', () => {
  it('takes a configured value as is', async () => {
    expect(await expandedLimitBytes(12345, '/nonexistent')).toBe(12345);
  });

  it('defaults to the free space less a reserve of the filesystem size', async () => {
    const s = statfsSync(tmpdir());
    const limit = await expandedLimitBytes(0, tmpdir());
    expect(limit).toBeLessThanOrEqual(s.bavail * s.bsize);
    expect(limit).toBeGreaterThanOrEqual(Math.max(0, s.bavail * s.bsize - s.blocks * s.bsize * 0.05 - 64 * 1024 * 1024));
  });
});
