import { unary } from '@berth/clients';
import { conflict, failedPrecondition, messageOf } from '@berth/errors';
import { startSettled } from './container-run';
import { MONITOR_ANSWER_MS, monitorDidNotAnswer, signalContainer } from './exit-probe';
import { thawDirect } from './kernel-direct';
import { type LifecycleContext, sleep } from './lifecycle-context';
import { parseSignal } from './signals';

const DEFAULT_STOP_TIMEOUT_S = 10;

/** docker stop: the stop signal, then SIGKILL to the whole container after the timeout. */
export async function stopContainer(ctx: LifecycleContext, ref: string, timeoutSeconds: number, signal: string): Promise<{ already: boolean }> {
  const { d } = ctx;
  const rec = d.containers.get(ref);
  clearTimeout(ctx.restartTimers.get(rec.id));
  await startSettled(rec.id);
  if (rec.state.Restarting) {
    Object.assign(rec.state, { Restarting: false, Status: 'exited' });
    rec.manuallyStopped = true;
    d.containers.save(rec);
    return { already: false };
  }
  if (!rec.state.Running) return { already: true };
  rec.manuallyStopped = true;
  d.containers.save(rec);
  const timeout = timeoutSeconds >= 0 ? timeoutSeconds : (rec.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S);
  const sig = parseSignal(signal || rec.config.StopSignal);
  // A monitor this supervisor refused to adopt: the refusal is the answer (rm -f still ends it).
  ctx.shims.get(rec);
  const exited = ctx.waiters.nextExit(rec.id);
  if (rec.state.Paused) {
    // A frozen process takes no signal, SIGKILL included (cgroup v1): thawed by the kernel when
    // the monitor cannot resume it.
    await ctx.shims
      .with(rec, (shim) => unary('shim', shim.resume.bind(shim), {}, { deadlineMs: MONITOR_ANSWER_MS }))
      .catch((err: unknown) => {
        ctx.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'monitor did not resume: thawing the container directly');
        thawDirect(rec);
      });
  }
  await signalContainer(ctx, rec, sig, false).catch(() => undefined);
  const timedOut = await Promise.race([exited.then(() => false), sleep(timeout * 1000).then(() => true)]);
  if (timedOut) {
    await signalContainer(ctx, rec, 9, true).catch(() => undefined);
    await exited;
  }
  d.event('stop', rec);
  return { already: false };
}

export async function restartContainer(ctx: LifecycleContext, ref: string, timeoutSeconds: number, signal: string): Promise<void> {
  const rec = ctx.d.containers.get(ref);
  await stopContainer(ctx, rec.id, timeoutSeconds, signal);
  rec.manuallyStopped = false;
  await ctx.run(rec);
  ctx.d.event('restart', rec);
}

export async function killContainer(ctx: LifecycleContext, ref: string, signal: string): Promise<void> {
  const rec = ctx.d.containers.get(ref);
  const sig = parseSignal(signal, 'SIGKILL');
  if (!rec.state.Running) throw failedPrecondition(`Cannot kill container: ${ref}: Container ${rec.id} is not running`);
  await signalContainer(ctx, rec, sig, false);
  ctx.d.event('kill', rec, { signal: String(sig) });
}

export async function pauseContainer(ctx: LifecycleContext, ref: string, pause: boolean): Promise<void> {
  const { d } = ctx;
  const rec = d.containers.get(ref);
  if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`);
  if (pause && rec.state.Paused) throw conflict(`Container ${rec.id} is already paused`);
  if (!pause && !rec.state.Paused) throw conflict(`Container ${rec.id} is not paused`);
  // A monitor that is gone is started again (conmon's finds the container as it left it).
  await ctx.shims.with(rec, (shim) => unary('shim', (pause ? shim.pause : shim.resume).bind(shim), {}, { deadlineMs: MONITOR_ANSWER_MS })).catch((err: unknown) => {
    // Not unavailable: the gateway takes that for a supervisor restarting and asks again.
    if (monitorDidNotAnswer(err)) throw failedPrecondition(`Cannot ${pause ? 'pause' : 'unpause'} container ${rec.id}: its monitor does not answer`, { cause: err });
    throw err;
  });
  Object.assign(rec.state, { Paused: pause, Status: pause ? 'paused' : 'running' });
  d.containers.save(rec);
  d.event(pause ? 'pause' : 'unpause', rec);
}
