import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unary } from '@berth/clients';
import { messageOf } from '@berth/errors';
import { socketAnswers } from '../clients/shim-client';
import { unpublish } from './published-ports';
import type { LifecycleContext } from './lifecycle-context';
import type { State } from './model';
import { restartDelayMs, shouldRestart } from './restart-policy';

// Long waits (a container runs for days) still need a finite deadline: timers past 2^31 ms fire at once.
const NO_DEADLINE = { deadlineMs: 24 * 3600_000 };

/** Keeps one Wait open on the shim per running container, to learn of its exit. */
export function watchExit(ctx: LifecycleContext, id: string): void {
  if (ctx.watching.has(id)) return;
  ctx.watching.add(id);
  const loop = async () => {
    for (;;) {
      const rec = ctx.d.containers.byId(id);
      if (!rec || !rec.state.Running) break;
      try {
        const shim = ctx.shims.get(rec);
        const w = await unary('shim', shim.wait.bind(shim), {}, NO_DEADLINE);
        ctx.watching.delete(id);
        ctx.exited(id, w.exitCode, w.exitedUnixMs);
        return;
      } catch (err) {
        // A shim that is gone for good has left its exit status in the bundle.
        if (!(await socketAnswers(rec.shimSocket))) {
          ctx.watching.delete(id);
          const exit = readExitFile(rec.bundle);
          ctx.exited(id, exit?.exitCode ?? 255, exit?.exitedUnixMs ?? Date.now(), exit ? '' : `shim lost: ${messageOf(err)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    ctx.watching.delete(id);
  };
  void loop();
}

/** A process exited: record it, tell the waiters, then restart (policy), unpublish or auto-remove. */
export function handleExit(ctx: LifecycleContext, id: string, exitCode: number, exitedUnixMs: number, error = ''): void {
  const { d } = ctx;
  const rec = d.containers.byId(id);
  if (!rec) return;
  const ranMs = exitedUnixMs - Date.parse(rec.state.StartedAt);
  Object.assign(rec.state, {
    Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: exitCode, Error: error,
    FinishedAt: new Date(exitedUnixMs || Date.now()).toISOString(),
  } satisfies Partial<State>);
  const restart = shouldRestart(rec.hostConfig.RestartPolicy, exitCode, rec.restartCount, rec.manuallyStopped);
  if (restart) Object.assign(rec.state, { Restarting: true, Status: 'restarting' });
  d.containers.save(rec);
  d.event('die', rec, { exitCode: String(exitCode) });
  ctx.waiters.exited(id, { exitCode, error });
  if (restart) {
    const delay = restartDelayMs(ctx.restartDelays.get(id) ?? 0, ranMs);
    ctx.restartDelays.set(id, delay);
    ctx.restartTimers.set(
      id,
      setTimeout(() => {
        const r = d.containers.byId(id);
        if (!r || !r.state.Restarting) return;
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

/** The exit status a shim leaves in the bundle when it goes. */
export function readExitFile(bundle: string): { exitCode: number; exitedUnixMs: number } | undefined {
  try {
    return JSON.parse(readFileSync(join(bundle, 'exit.json'), 'utf8')) as { exitCode: number; exitedUnixMs: number };
  } catch {
    return undefined;
  }
}
