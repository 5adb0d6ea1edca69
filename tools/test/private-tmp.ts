import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Vitest global setup: every spec's temp dirs (they all use os.tmpdir()) go into one private
 * dir for the run, removed at the end, so no run leaves litter in /tmp. A dir with a mount
 * still under it is left in place and named, since removing it would reach into the mount.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'berth-unit-'));
  process.env.TMPDIR = dir;
  return () => {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${dir}/`));
    if (mounts.length > 0) {
      console.error(`left ${dir} in place: still mounted under it: ${mounts.join(', ')}`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
