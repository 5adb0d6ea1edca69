import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixtures } from '../../tools/fixtures/build';

const DIR = '/tmp/berth-fixtures';

/**
 * Fixture image tarballs, built once (same inputs, same bytes). Built in a private dir and
 * renamed into place, so test files running side by side never see a half-written set.
 */
export async function fixtures(): Promise<{ busybox: string; layered: string; rootfs: string }> {
  const paths = { busybox: join(DIR, 'busybox.tar'), layered: join(DIR, 'layered.tar'), rootfs: join(DIR, 'busybox-rootfs.tar') };
  if (!existsSync(DIR)) {
    const tmp = mkdtempSync('/tmp/berth-fixtures-');
    await buildFixtures(tmp);
    try {
      renameSync(tmp, DIR);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  mkdirSync(DIR, { recursive: true });
  return paths;
}
