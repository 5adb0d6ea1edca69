import { rmSync } from 'node:fs';
import { startSettled } from './container-run';
import { unary } from '@berth/clients';
import { span, traced } from '@berth/logging';
import { conflict, invalidArgument, isNotFound, messageOf } from '@berth/errors';
import { releaseMounts } from './container-mounts';
import { signalContainer } from './exit-probe';
import { unmountShm } from './ipc-shm';
import { type LifecycleContext, sleep } from './lifecycle-context';
import type { ContainerRecord } from './model';
import { withRetry } from './background-retry';
import { clearLeftovers } from './container-leftovers';
import { release as releaseNetwork } from './network-attach';
import { retireUnmanaged } from './unmanaged-removal';

/** docker rm: refuses a running container unless forced. */
export async function deleteContainer(ctx: LifecycleContext, ref: string, force: boolean, removeVolumes = false): Promise<void> {
  const rec = ctx.d.containers.get(ref);
  if ((rec.state.Running || rec.state.Restarting) && !force) {
    throw conflict(`cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`);
  }
  await ctx.remove(rec, force, removeVolumes);
}

export async function removeContainer(ctx: LifecycleContext, rec: ContainerRecord, force: boolean, removeVolumes = rec.hostConfig.AutoRemove === true): Promise<void> {
  clearTimeout(ctx.restartTimers.get(rec.id));
  // A record left in "removing" by a crash or a failed step is finished by the next call;
  // only a removal in progress right now makes a second one a no-op.
  if (ctx.removing.has(rec.id)) return;
  ctx.removing.add(rec.id);
  try {
    await removeNow(ctx, rec, force, removeVolumes);
  } finally {
    ctx.removing.delete(rec.id);
  }
}

async function removeNow(ctx: LifecycleContext, rec: ContainerRecord, force: boolean, removeVolumes: boolean): Promise<void> {
  const { d } = ctx;
  await startSettled(rec.id);
  const unmanaged = ctx.shims.refusal(rec.id) !== undefined;
  if (unmanaged) await retireUnmanaged(ctx, rec);
  else if (rec.state.Running && force) {
    rec.manuallyStopped = true;
    const exited = ctx.waiters.nextExit(rec.id);
    await signalContainer(ctx, rec, 9, true).catch(() => undefined);
    await Promise.race([exited, sleep(10_000)]);
  }
  ctx.health.stopped(rec.id);
  let end = span('remove: record removing', rec.id);
  // The record says "removing" before anything is undone; an --rm exit has already written that.
  if (rec.state.Status !== 'removing' || (removeVolumes && !rec.removeVolumes)) {
    rec.state.Status = 'removing';
    rec.removeVolumes = rec.removeVolumes || removeVolumes;
    d.containers.save(rec);
  }
  // The shim's shutdown is what unmounts the rootfs and clears the runtime's state, so an idle
  // shim that has exited is started once more to do it.
  end();
  // Volumes, the shm mount and the network endpoint are independent and each release is
  // idempotent: one at a time only added their round trips up. Once the process has ended
  // nothing of the container holds them, so they go while the monitor unmounts the rootfs; the
  // bundle and the rootfs snapshot, which wait for that unmount, go after the answer. A failure
  // still fails the removal (the record stays in "removing" and the next call finishes it).
  const releases = () => [
    traced('remove: release mounts', rec.id, releaseMounts(d.peers, rec.id, rec.removeVolumes ?? false, d.logger)),
    rec.networks?.length ? withRetry(`release ${rec.id}`, () => releaseNetwork(d.peers, rec.id), d.logger) : undefined,
    unmountShm(rec),
  ];
  const alongside = rec.state.Running ? [] : releases();
  // Settled now, read below: a rejection must not go unhandled while the shutdown runs.
  const early = Promise.allSettled(alongside);
  if (!unmanaged) {
    await traced('remove: monitor shutdown', rec.id, ctx.shims.with(rec, (shim) => unary('shim', shim.shutdown.bind(shim), {}, { deadlineMs: 30_000, idempotent: false }))).catch((err: unknown) =>
      d.logger.warn({ id: rec.id, err: messageOf(err) }, 'shim shutdown failed'),
    );
  }
  ctx.shims.forget(rec.id);
  const late = Promise.allSettled(alongside.length ? [] : releases());
  rmSync(rec.shimSocket, { force: true });
  const released = [...(await early), ...(await late)];
  const failed = released.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  end = span('remove: record, event', rec.id);
  d.containers.remove(rec.id);
  d.event('destroy', rec);
  ctx.waiters.removed(rec.id, { exitCode: rec.state.ExitCode, error: rec.state.Error });
  end();
  clearLeftovers(ctx, rec);
}

/** docker container prune: every stopped container matching the label and until filters. */
export async function pruneContainers(ctx: LifecycleContext, filtersJson: string): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const filters = filtersJson ? (JSON.parse(filtersJson) as Record<string, string[] | Record<string, boolean>>) : {};
  const labels = normaliseFilter(filters.label);
  const until = normaliseFilter(filters.until)[0];
  const untilMs = until ? parseUntil(until) : Infinity;
  const deleted: string[] = [];
  for (const rec of ctx.d.containers.all()) {
    if (rec.state.Running || rec.state.Restarting || rec.state.Paused) continue;
    if (Date.parse(rec.created) > untilMs) continue;
    if (!labels.every((l) => matchLabel(rec.config.Labels, l))) continue;
    await ctx.remove(rec, false);
    deleted.push(rec.id);
  }
  return { deleted, spaceReclaimed: 0 };
}

function normaliseFilter(v: string[] | Record<string, boolean> | undefined): string[] {
  if (!v) return [];
  return Array.isArray(v) ? v : Object.keys(v).filter((k) => v[k]);
}

function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  return i < 0 ? filter in labels : labels[filter.slice(0, i)] === filter.slice(i + 1);
}

function parseUntil(v: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (m) return Date.now() - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[m[2] as 's' | 'm' | 'h'];
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid filter 'until=${v}'`);
  return t;
}
