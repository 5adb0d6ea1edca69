import { unary } from '@berth/clients';
import { socketAnswers } from '@berth/grpc';
import type { ExecRecord } from './execs';
import type { LifecycleContext } from './lifecycle-context';

/** Brings an exec's state up to date from the shim that runs it. */
export async function refreshExec(ctx: LifecycleContext, e: ExecRecord): Promise<void> {
  if (!e.started || !e.running) return;
  const rec = ctx.d.containers.byId(e.containerId);
  // An exec dies with its container; the stopped container's shim may have exited since.
  if (!rec || (!rec.state.Running && !(await socketAnswers(rec.shimSocket)))) {
    e.running = false;
    return;
  }
  const shim = ctx.shims.get(rec);
  const st = await unary('shim', shim.execState.bind(shim), { execId: e.id }).catch(() => undefined);
  if (!st) return;
  e.pid = st.pid;
  if (!st.running && st.found) {
    e.running = false;
    e.exitCode = st.exitCode;
  }
}
