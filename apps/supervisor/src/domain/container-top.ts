import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { unary } from '@berth/clients';
import { conflict, invalidArgument, messageOf } from '@berth/errors';
import { MONITOR_ANSWER_MS, monitorDidNotAnswer } from './exit-probe';
import { cgroupPids } from './kernel-direct';
import type { LifecycleContext } from './lifecycle-context';
import type { ContainerRecord } from './model';

const execFileP = promisify(execFile);

/** The container's pids as its monitor reports them; the cgroup's when no monitor answers (the same list: the runtime reads it there). */
async function containerPids(ctx: LifecycleContext, rec: ContainerRecord): Promise<number[]> {
  try {
    return (await ctx.shims.with(rec, (shim) => unary('shim', shim.pids.bind(shim), {}, { deadlineMs: MONITOR_ANSWER_MS }))).pids;
  } catch (err) {
    if (!monitorDidNotAnswer(err)) throw err;
    ctx.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'monitor did not answer Pids: the cgroup lists them');
    return cgroupPids(rec);
  }
}

/** docker top: the host's ps, narrowed to the container's pids as the shim reports them. */
export async function topContainer(ctx: LifecycleContext, ref: string, psArgs: string): Promise<{ titles: string[]; processes: { columns: string[] }[] }> {
  const rec = ctx.d.containers.get(ref);
  if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`);
  const pids = new Set(await containerPids(ctx, rec));
  const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
  let out: string;
  try {
    out = (await execFileP('ps', args, { maxBuffer: 16 << 20 })).stdout;
  } catch (err) {
    throw invalidArgument(`Error running ps: ${messageOf(err)}`);
  }
  const lines = out.split('\n').filter((l) => l.trim());
  const titles = lines[0]!.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalidArgument(`Couldn't find PID field in ps output`);
  const processes = lines
    .slice(1)
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
    })
    .filter((f) => pids.has(Number(f[pidCol])))
    .map((columns) => ({ columns }));
  return { titles, processes };
}
