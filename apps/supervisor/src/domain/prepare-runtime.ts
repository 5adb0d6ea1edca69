import { unary } from '@berth/clients';
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
  return rec.monitor?.name === 'conmon' && !rec.joinedContainer && !joins && hc.IpcMode !== 'shareable';
}

/** Asks the monitor to prepare, without waiting: the create answers now, the start meets what was made. */
export function prepareRuntime(ctx: LifecycleContext, rec: ContainerRecord): void {
  if (!preparable(rec)) return;
  ctx.shims
    .with(rec, (shim) => unary('shim', shim.prepare.bind(shim), {}, { deadlineMs: 60_000, idempotent: false }))
    .catch((err: unknown) => ctx.d.logger.debug({ id: rec.id, err: messageOf(err) }, 'monitor did not prepare'));
}
