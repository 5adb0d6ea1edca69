import { unary } from '@berth/clients';
import { messageOf } from '@berth/errors';
import { socketAnswers } from '@berth/grpc';
import { sweepLeftovers } from './container-leftovers';
import { watchExit } from './exit-handling';
import { contractMismatch, monitorInfo, monitorOf } from './monitor-record';
import { ofThisRun, readExitRecord } from './exit-probe';
import { containerAlive } from './kernel-direct';
import type { LifecycleContext } from './lifecycle-context';
import type { ContainerRecord } from './model';
import { retain as retainNetworks } from './network-attach';
import { unpublish } from './published-ports';

/**
 * After a supervisor (re)start: learn what happened to every container while nobody was
 * watching. A running container's shim is asked; one whose shim is gone has an exit record.
 */
export async function reconcileContainers(ctx: LifecycleContext): Promise<void> {
  const { d } = ctx;
  for (const rec of d.containers.all()) {
    if (rec.state.Status === 'removing') {
      await ctx.remove(rec, true).catch((err: unknown) => d.logger.warn({ id: rec.id, err: messageOf(err) }, 'finishing removal failed'));
      continue;
    }
    if (!rec.state.Running && !rec.state.Restarting) {
      // A crash between the exit and the unpublish left its ports published.
      if (rec.networks?.some((n) => n.ports.length)) await unpublish(d, rec.id);
      continue;
    }
    if (await socketAnswers(rec.shimSocket)) {
      const refused = await adoptionRefusal(ctx, rec);
      if (refused) continue;
      const shim = ctx.shims.get(rec);
      try {
        const st = await unary('shim', shim.state.bind(shim), {});
        if (st.status === 'running' || st.status === 'paused') {
          Object.assign(rec.state, { Running: true, Restarting: false, Paused: st.status === 'paused', Status: st.status, Pid: st.pid });
          d.containers.save(rec);
          watchExit(ctx, rec.id);
          ctx.health.resume(rec);
          continue;
        }
        if (st.status === 'stopped' && ofThisRun(rec, Number(st.exitedUnixMs))) {
          ctx.exited(rec.id, st.exitCode, Number(st.exitedUnixMs));
          continue;
        }
        // A monitor that was down when this run ended, and found no exit of it, knows at most an
        // earlier run's: the record and the kernel decide below.
        d.logger.warn({ id: rec.id, status: st.status }, 'monitor has no exit of the current run');
      } catch (err) {
        d.logger.warn({ id: rec.id, err: messageOf(err) }, 'shim did not answer State');
      }
    }
    const exit = readExitRecord(rec);
    if (!exit && containerAlive(rec)) {
      // Running without its monitor: it is running; the probe sees it end.
      watchExit(ctx, rec.id);
      continue;
    }
    ctx.exited(rec.id, exit?.exitCode ?? 255, exit?.exitedUnixMs ?? Date.now(), exit ? '' : 'container shim disappeared');
  }
  // Endpoints of containers whose creation a crash cut short.
  const keep = [...d.containers.all().map((c) => c.id), ...ctx.creating];
  await retainNetworks(d.peers, keep).then(
    (released) => released.length && d.logger.info({ released }, 'released networking of unknown containers'),
    (err: unknown) => d.logger.warn({ err: messageOf(err) }, 'could not reconcile networking with netproxy'),
  );
  // Snapshots, bundles and files of containers whose removal a crash cut short after its answer.
  await sweepLeftovers(ctx);
}

/**
 * A running monitor is adopted only if it speaks this supervisor's shim contract: talking v1 to a
 * v2 monitor could misread every answer. A refusal is logged and kept in the container's state.
 */
async function adoptionRefusal(ctx: LifecycleContext, rec: ContainerRecord): Promise<boolean> {
  let info;
  try {
    info = await monitorInfo(ctx.shims.get(rec));
  } catch (err) {
    // An old shim without Info, or one busy: State below decides.
    ctx.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'monitor did not answer Info');
    return false;
  }
  const why = contractMismatch(info);
  if (!why) return false;
  const m = monitorOf(rec);
  ctx.d.logger.error({ id: rec.id, monitor: m, contracts: info.contracts }, `refusing to adopt the monitor of ${rec.id}: ${why}`);
  ctx.shims.refuse(rec.id, why);
  rec.state.Error = `monitor not adopted: ${why}`;
  ctx.d.containers.save(rec);
  return true;
}
