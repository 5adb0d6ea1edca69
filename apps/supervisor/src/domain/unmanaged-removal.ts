import { readOptions, Runtime, unmountRootfs } from '@berth/shim-core';
import { messageOf } from '@berth/errors';
import { containerAlive } from './kernel-direct';
import { type LifecycleContext, sleep } from './lifecycle-context';
import type { ContainerRecord } from './model';

/**
 * `rm -f` of a container whose running monitor this supervisor refused to adopt (it serves
 * another contract): nobody may talk to that monitor, so the monitor's part of a removal is done
 * here, through the runtime's own state (kill, delete) and the bundle's rootfs mount. The monitor
 * process is left alone; with its container gone it has nothing left to serve.
 */
export async function retireUnmanaged(ctx: LifecycleContext, rec: ContainerRecord): Promise<void> {
  const rt = new Runtime(readOptions(rec.bundle));
  const wasRunning = rec.state.Running;
  if (containerAlive(rec)) {
    await rt.kill(9, true).catch((err: unknown) => ctx.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'runtime kill of an unmanaged container failed'));
    for (let i = 0; i < 100 && containerAlive(rec); i++) await sleep(100);
  }
  await rt.delete();
  unmountRootfs(rec.bundle);
  if (wasRunning) ctx.exited(rec.id, 137, Date.now());
}
