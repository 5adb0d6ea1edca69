import { clientFixtures } from '../support/client-fixtures';
import type { Suite } from '../support/berth';

/** Env-less, as a plain `docker import` makes it (no Cmd either). */
export const NOENV_IMAGE = 'berth-clients/noenv:latest';

/** Loads busybox, the many-layer image, httpd, redis, and imports the Env-less rootfs. */
export async function loadClientImages(suite: Suite): Promise<void> {
  const fx = await clientFixtures();
  for (const tar of [fx.busybox, fx.many, fx.httpd, fx.redis]) {
    const r = await suite.docker(['load', '-q', '-i', tar], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`docker load ${tar}: ${r.stderr}`);
  }
  const imp = await suite.docker(['import', fx.rootfs, NOENV_IMAGE], { timeoutMs: 120_000 });
  if (imp.code !== 0) throw new Error(`docker import: ${imp.stderr}`);
}
