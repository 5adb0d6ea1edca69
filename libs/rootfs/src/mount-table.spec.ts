import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMounted } from './mount-table';

const root = process.getuid?.() === 0;

describe('isMounted', () => {
  it('knows /proc and not a plain directory under it', () => {
    expect(isMounted('/proc')).toBe(true);
    expect(isMounted('/proc/self')).toBe(false);
  });

  // mountinfo writes a space as \040: a path with one must still be found.
  it.runIf(root)('finds a mount whose path has a space', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mt-')), 'a b');
    execFileSync('mkdir', ['-p', dir]);
    try {
      expect(isMounted(dir)).toBe(false);
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
      expect(isMounted(dir)).toBe(true);
    } finally {
      if (isMounted(dir)) execFileSync('umount', ['-l', dir]);
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });
});
