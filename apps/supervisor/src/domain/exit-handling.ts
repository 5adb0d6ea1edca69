import { messageOf } from '@berth/errors';
import { span, traceDuration } from '@berth/logging';
import { waitForExit } from './exit-probe';
import { unpublish } from './published-ports';
import type { LifecycleContext } from './lifecycle-context';
import type { State } from './model';
import { endedByOom } from './oom';
import { restartDelayMs, shouldRestart } from './restart-policy';

/** Keeps one Wait open on the shim per running container, to learn of its exit (see exit-probe). */
export function watchExit(ctx: LifecycleContext, id: string): void {
  if (ctx.watching.has(id)) return;
  const rec = ctx.d.containers.byId(id);
  if (!rec || !rec.state.Running) return;
  ctx.watching.add(id);
  void waitForExit(rec, () => ctx.shims.get(rec), () => ctx.signalledDirect.get(id)).then((e) => {
    ctx.watching.delete(id);
    ctx.signalledDirect.delete(id);
    if (e.error) ctx.d.logger.warn({ id, err: e.error }, 'container exit seen without its monitor');
    ctx.exited(id, e.exitCode, e.exitedUnixMs || Date.now(), e.error);
  });
}

/** A process exited: record it, tell the waiters, then restart (policy), unpublish or auto-remove. */
export function handleExit(ctx: LifecycleContext, id: string, exitCode: number, exitedUnixMs: number, error = ''): void {
  const { d } = ctx;
  if (exitedUnixMs) traceDuration('exit: seen by supervisor after exit', id, Date.now() - exitedUnixMs);
  const end = span('exit: record, event, waiters', id);
  ctx.health.stopped(id);
  const rec = d.containers.byId(id);
  if (!rec) return;
  const ranMs = exitedUnixMs - Date.parse(rec.state.StartedAt);
  const oom = endedByOom(rec, exitCode);
  Object.assign(rec.state, {
    Status: rec.state.Status === 'removing' ? 'removing' : 'exited', Running: false, Paused: false, Pid: 0, ExitCode: exitCode, Error: error, OOMKilled: oom,
    FinishedAt: new Date(exitedUnixMs || Date.now()).toISOString(),
  } satisfies Partial<State>);
  // An exit seen while the container is being removed never restarts it: that start would mount
  // the rootfs again behind the removal's back, and the mount would outlive the container.
  const restart = !ctx.removing.has(id) && shouldRestart(rec.hostConfig.RestartPolicy, exitCode, rec.restartCount, rec.manuallyStopped);
  if (restart) Object.assign(rec.state, { Restarting: true, Status: 'restarting' });
  // An --rm container is removed next: the record says so in this same write, which the
  // removal then does not repeat (a crash from here on finishes the removal at start-up).
  else if (rec.hostConfig.AutoRemove) Object.assign(rec, { removeVolumes: true, state: { ...rec.state, Status: 'removing' } });
  d.containers.save(rec);
  if (oom) d.event('oom', rec);
  d.event('die', rec, { exitCode: String(exitCode) });
  ctx.waiters.exited(id, { exitCode, error });
  end();
  if (restart) {
    const delay = restartDelayMs(ctx.restartDelays.get(id) ?? 0, ranMs);
    ctx.restartDelays.set(id, delay);
    ctx.restartTimers.set(
      id,
      setTimeout(() => {
        const r = d.containers.byId(id);
        if (!r || !r.state.Restarting || ctx.removing.has(id)) return;
        r.restartCount++;
        ctx.run(r).catch((err: unknown) => {
          d.logger.warn({ id, err: messageOf(err) }, 'restart failed');
          ctx.exited(id, r.state.ExitCode, Date.now(), messageOf(err));
        });
      }, delay),
    );
  } else {
    void unpublish(d, id);
  }
  if (!restart && rec.hostConfig.AutoRemove) {
    void ctx.remove(rec, true).catch((err: unknown) => d.logger.error({ id, err: messageOf(err) }, 'auto-remove failed'));
  }
}
