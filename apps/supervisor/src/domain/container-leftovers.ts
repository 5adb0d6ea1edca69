import { readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { unary } from '@berth/clients';
import { isNotFound, messageOf } from '@berth/errors';
import { isFullId } from '@berth/ids';
import type { snapshotterV1 } from '@berth/proto';
import { withRetry } from './background-retry';
import { type LifecycleContext, bundleDir, filesDir } from './lifecycle-context';
import type { ContainerRecord } from './model';

/**
 * The label a container's rootfs snapshot carries: the snapshots the supervisor may collect
 * once no record names them (the images service's own active snapshots do not carry it).
 */
export const CONTAINER_SNAPSHOT_LABEL = 'berth.supervisor.container';

/**
 * What a removed container leaves that nobody can see through the API: its rootfs snapshot, its
 * bundle and its files (the log can be gigabytes, and an unlink of one takes as long). They go
 * after the removal has been answered, as containerd's garbage collector removes a deleted
 * container's snapshot after the delete returns; a crash before they are gone is what
 * `sweepLeftovers` finishes at the next start.
 */
export function clearLeftovers(ctx: LifecycleContext, rec: Pick<ContainerRecord, 'id' | 'rootfsKey' | 'bundle'>): void {
  const { id, rootfsKey } = rec;
  const { d } = ctx;
  const snaps = d.peers.snapshots;
  void withRetry(
    `remove snapshot ${rootfsKey}`,
    () =>
      unary('snapshotter', snaps.remove.bind(snaps), { key: rootfsKey }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      }),
    d.logger,
  );
  // In the thread pool, not on the event loop: the removal's answer is still on its way out.
  void (async () => {
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    for (const path of [rec.bundle, filesDir(d, id)]) await removeUnlessMounted(ctx, id, path, mounts);
  })().catch((err: unknown) => d.logger.warn({ id, err: messageOf(err) }, 'could not clear what a removed container left; the next start does'));
}

/**
 * Removes a container's directory, unless something is mounted at or under it (a rootfs whose
 * monitor failed to unmount it): removing files through a mount would reach into the
 * container's filesystem. That one is logged and left for a later start.
 */
async function removeUnlessMounted(ctx: LifecycleContext, id: string, path: string, mounts: string): Promise<boolean> {
  if (mounts.includes(` ${path}/`) || mounts.includes(` ${path} `)) {
    ctx.d.logger.warn({ id, path }, 'a removed container still has a mount here; left in place');
    return false;
  }
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (err) {
    ctx.d.logger.warn({ id, path, err: messageOf(err) }, 'could not remove what a removed container left; the next start does');
    return false;
  }
}

/**
 * Ids no record claims (an unreadable one still does) and no create in progress holds: theirs to
 * collect.
 */
function unknownIds(ctx: LifecycleContext, ids: string[]): string[] {
  return ids.filter((id) => !ctx.d.containers.claims(id) && !ctx.creating.has(id));
}

/**
 * At start-up, after the records are reconciled: removes the rootfs snapshots, bundles and file
 * directories of containers that no record names, left by a crash between a removal's answer
 * and its cleanup (or in a create). A bundle with a mount under it is left alone and logged: only
 * the monitor's shutdown unmounts a rootfs, and removing files through a mount would reach into it.
 */
export async function sweepLeftovers(ctx: LifecycleContext): Promise<void> {
  const { d } = ctx;
  const snaps = d.peers.snapshots;
  let snapshots: snapshotterV1.SnapshotInfo[] = [];
  try {
    snapshots = (await unary('snapshotter', snaps.list.bind(snaps), {})).snapshots;
  } catch (err) {
    d.logger.warn({ err: messageOf(err) }, 'could not list snapshots to collect those of removed containers');
  }
  const owned = snapshots.filter((s) => s.labels[CONTAINER_SNAPSHOT_LABEL] === s.name).map((s) => s.name);
  for (const key of unknownIds(ctx, owned)) {
    // A removal the reconcile finished just now may have removed it first: not found is done.
    await unary('snapshotter', snaps.remove.bind(snaps), { key }).then(
      () => d.logger.info({ key }, 'removed the snapshot of a removed container'),
      (err: unknown) => isNotFound(err) || d.logger.warn({ key, err: messageOf(err) }, 'could not remove the snapshot of a removed container'),
    );
  }
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  for (const [dir, of] of [
    [join(d.config.execRoot, 'bundles'), (id: string) => bundleDir(d, id)],
    [join(d.dataDir, 'containers'), (id: string) => filesDir(d, id)],
  ] as const) {
    for (const id of unknownIds(ctx, entries(dir))) {
      if (await removeUnlessMounted(ctx, id, of(id), mounts)) d.logger.info({ id, path: of(id) }, 'collected what a removed container left');
    }
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).filter(isFullId);
  } catch {
    return [];
  }
}
