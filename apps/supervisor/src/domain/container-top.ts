import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { unary } from '@berth/clients';
import { conflict, invalidArgument, messageOf } from '@berth/errors';
import type { LifecycleContext } from './lifecycle-context';

const execFileP = promisify(execFile);

/** docker top: the host's ps, narrowed to the container's pids as the shim reports them. */
export async function topContainer(ctx: LifecycleContext, ref: string, psArgs: string): Promise<{ titles: string[]; processes: { columns: string[] }[] }> {
  const rec = ctx.d.containers.get(ref);
  if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`);
  const shim = ctx.shims.get(rec);
  const pids = new Set((await unary('shim', shim.pids.bind(shim), {})).pids);
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
