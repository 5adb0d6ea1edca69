import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildClientFixtures, CLIENT_FIXTURE_FILES } from '../../tools/fixtures/clients';
import { fixtures } from './fixtures';

// Keyed by the recipe, so a changed fixture is never served from an older build's cache.
const DIR = `/tmp/berth-fixtures-clients-${createHash('sha256').update(readFileSync(join(__dirname, '../../tools/fixtures/clients.ts'))).digest('hex').slice(0, 12)}`;

export interface ClientFixtures {
  busybox: string;
  /** Plain rootfs tar: `docker import` of it gives an image with no Env at all. */
  rootfs: string;
  many: string;
  httpd: string;
  redis: string;
}

/** The real-client fixtures, built once into a private dir and renamed into place. */
export async function clientFixtures(): Promise<ClientFixtures> {
  const base = await fixtures();
  const own = { httpd: join(DIR, CLIENT_FIXTURE_FILES.httpd), redis: join(DIR, CLIENT_FIXTURE_FILES.redis) };
  if (!Object.values(own).every((p) => existsSync(p))) {
    const tmp = mkdtempSync('/tmp/berth-fixtures-clients-');
    await buildClientFixtures(tmp);
    rmSync(DIR, { recursive: true, force: true });
    try {
      renameSync(tmp, DIR);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { busybox: base.busybox, rootfs: base.rootfs, many: base.many, ...own };
}
