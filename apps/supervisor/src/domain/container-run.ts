import { conflict, invalidArgument, messageOf } from '@berth/errors';
import { unary } from '@berth/clients';
import { span, traced } from '@berth/logging';
import { writeFilesFor } from './container-files';
import { type LifecycleContext, now } from './lifecycle-context';
import { linkHosts, resolveLinks } from './links';
import { type ContainerRecord, ZERO_TIME } from './model';
import { publish, unpublish } from './published-ports';
import { watchExit } from './exit-handling';
import { mountShm } from './ipc-shm';
import { viewsSettled } from './container-views';

/** Docker's exit codes for a process that could not be started. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}

export async function startContainer(ctx: LifecycleContext, ref: string): Promise<{ already: boolean }> {
  const rec = ctx.d.containers.get(ref);
  if (rec.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
  if (rec.state.Running) return { already: true };
  if (rec.state.Status === 'removing' || rec.state.Dead) throw conflict(`container ${rec.id} is marked for removal and cannot be started`);
  clearTimeout(ctx.restartTimers.get(rec.id));
  rec.manuallyStopped = false;
  await ctx.run(rec);
  return { already: false };
}

/**
 * Runs the process once more; used by start and by restart policies. As in Docker, --rm also
 * covers a container that never started, whatever stopped it (the runtime, or a service that was
 * restarting): the CLI waits for the removal before it prints the error, so a container left in
 * Created would hang it.
 */
export async function runContainer(ctx: LifecycleContext, rec: ContainerRecord): Promise<void> {
  const run = startProcess(ctx, rec);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  starting.set(rec.id, settled);
  try {
    await run;
  } catch (err) {
    if (rec.hostConfig.AutoRemove) await ctx.remove(rec, true).catch((e: unknown) => ctx.d.logger.error({ id: rec.id, err: messageOf(e) }, 'auto-remove failed'));
    throw err;
  } finally {
    if (starting.get(rec.id) === settled) starting.delete(rec.id);
  }
}

/**
 * Starts in progress, by container: a stop or a removal that arrives while a start (a restart
 * policy's, most often) is still on its way waits for it, then acts on the state it left, so a
 * start can never finish after the stop or removal that should have ended it.
 */
const starting = new Map<string, Promise<void>>();

export function startSettled(id: string): Promise<void> {
  return starting.get(id) ?? Promise.resolve();
}

/** The start on its way, if any: a caller that must not overlap one checks it without yielding first. */
export function startInFlight(id: string): Promise<void> | undefined {
  return starting.get(id);
}

async function startProcess(ctx: LifecycleContext, rec: ContainerRecord): Promise<void> {
  const { d } = ctx;
  // Taken before this start is counted as on its way (runContainer): a view made after that waits for it.
  await viewsSettled(rec.id);
  const end = span('start: files, publish', rec.id);
  writeFilesFor(rec, d.config, linkHostsOf(ctx, rec));
  await mountShm(rec);
  await publish(d, rec.id);
  end();
  let pid: number;
  try {
    pid = (await traced('start: monitor start', rec.id, ctx.shims.with(rec, (shim) => unary('shim', shim.start.bind(shim), {}, { deadlineMs: 60_000, idempotent: false })))).pid;
  } catch (err) {
    const msg = messageOf(err);
    await unpublish(d, rec.id);
    Object.assign(rec.state, { Status: rec.state.StartedAt === ZERO_TIME ? 'created' : 'exited', Running: false, Restarting: false, Error: msg, ExitCode: startFailureCode(msg) });
    d.containers.save(rec);
    throw invalidArgument(`failed to create task for container: ${msg}: unknown`);
  }
  Object.assign(rec.state, { Status: 'running', Running: true, Restarting: false, Paused: false, Pid: pid, Error: '', ExitCode: 0, OOMKilled: false, StartedAt: now() });
  const saved = span('start: record, event, watch', rec.id);
  // The Wait goes out first: a short-lived process may already have exited, and the record's
  // fsync would only delay hearing it (the answer is handled after this function returns).
  watchExit(ctx, rec.id);
  d.containers.save(rec);
  d.event('start', rec);
  ctx.health.started(rec);
  saved();
}

/** Hosts entries for a container's --link targets that still exist. */
function linkHostsOf(ctx: LifecycleContext, rec: ContainerRecord): string[] {
  return ((rec.hostConfig.Links as string[] | undefined) ?? []).flatMap((l) => {
    try {
      return linkHosts(resolveLinks(ctx.d.containers, [l]));
    } catch {
      return [];
    }
  });
}
