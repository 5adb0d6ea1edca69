import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixtures } from '../../tools/fixtures/build';

const DIR = '/tmp/berth-fixtures';

/**
 * Fixture image tarballs, built once (same inputs, same bytes). Built in a private dir and
 * renamed into place, so test files running side by side never see a half-written set.
 */
export async function fixtures(): Promise<{ busybox: string; layered: string; many: string; rootfs: string }> {
  const paths = { busybox: join(DIR, 'busybox.tar'), layered: join(DIR, 'layered.tar'), many: join(DIR, 'many.tar'), rootfs: join(DIR, 'busybox-rootfs.tar') };
  // A set from an older checkout lacks newer files: build a fresh one beside it.
  if (!Object.values(paths).every((p) => existsSync(p))) {
    rmSync(DIR, { recursive: true, force: true });
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
