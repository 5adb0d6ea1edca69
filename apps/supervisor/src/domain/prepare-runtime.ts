import { unary } from '@berth/clients';
import { BUILD_STEP_LABEL } from '@berth/config';
import { messageOf } from '@berth/errors';
import type { LifecycleContext } from './lifecycle-context';
import type { ContainerRecord } from './model';

/**
 * Whether a new container's runtime container can be made at create, ahead of its first start
 * (the monitor's Prepare). Not where the start itself decides what the runtime joins or mounts:
 * a `container:` namespace needs that container running at start, and `--ipc shareable`
 * mounts its /dev/shm at start, which `runc create` would bind before it is there.
 */
export function preparable(rec: ContainerRecord): boolean {
  const hc = rec.hostConfig;
  const joins = [hc.NetworkMode, hc.PidMode, hc.IpcMode].some((m) => typeof m === 'string' && m.startsWith('container:'));
  // A build's step containers are mostly written into and committed, never started (COPY, ADD).
  const buildStep = rec.config.Labels?.[BUILD_STEP_LABEL] !== undefined;
  return rec.monitor?.name === 'conmon' && !rec.joinedContainer && !joins && hc.IpcMode !== 'shareable' && !buildStep;
}

/** Prepares on their way, by container: the monitor mounts the rootfs for them. */
const preparing = new Map<string, Promise<void>>();

/**
 * Settles when the container's prepare (if any) has: a mount of the container's rootfs for
 * `docker cp` must come after the monitor's, so that it binds that one rather than mounting the
 * same overlay directories a second time beside it.
 */
export function prepareSettled(id: string): Promise<void> {
  return preparing.get(id) ?? Promise.resolve();
}

/** Asks the monitor to prepare, without waiting: the create answers now, the start meets what was made. */
export function prepareRuntime(ctx: LifecycleContext, rec: ContainerRecord): void {
  if (!preparable(rec)) return;
  const done: Promise<void> = ctx.shims
    .with(rec, (shim) => unary('shim', shim.prepare.bind(shim), {}, { deadlineMs: 60_000, idempotent: false }))
    .then(
      () => undefined,
      (err: unknown) => ctx.d.logger.debug({ id: rec.id, err: messageOf(err) }, 'monitor did not prepare'),
    )
    .finally(() => {
      if (preparing.get(rec.id) === done) preparing.delete(rec.id);
    });
  preparing.set(rec.id, done);
}
