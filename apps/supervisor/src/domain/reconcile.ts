import { unary } from '@berth/clients';
import { messageOf } from '@berth/errors';
import { socketAnswers } from '../clients/shim-client';
import { watchExit } from './exit-handling';
import { containerAlive, readExitRecord } from './exit-probe';
import type { LifecycleContext } from './lifecycle-context';
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
      const shim = ctx.shims.get(rec);
      try {
        const st = await unary('shim', shim.state.bind(shim), {});
        if (st.status === 'running' || st.status === 'paused') {
          Object.assign(rec.state, { Running: true, Restarting: false, Paused: st.status === 'paused', Status: st.status, Pid: st.pid });
          d.containers.save(rec);
          watchExit(ctx, rec.id);
          ctx.health.resume(rec);
        } else {
          ctx.exited(rec.id, st.exitCode, st.exitedUnixMs || Date.now());
        }
        continue;
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
}
