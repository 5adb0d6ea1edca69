import { traced } from '@berth/logging';
import { failedPrecondition } from '@berth/errors';
import { createContainer } from './container-create';
import { updateContainer } from './container-update';
import { deleteContainer, pruneContainers, removeContainer } from './container-removal';
import { renameContainer } from './container-rename';
import { runContainer, startContainer } from './container-run';
import { topContainer } from './container-top';
import { refreshExec } from './exec-state';
import type { ExecRecord } from './execs';
import { handleExit } from './exit-handling';
import { type ExitResult, ExitWaiters } from './exit-waiters';
import { HealthMonitor } from './health-monitor';
import type { LifecycleContext, LifecycleDeps } from './lifecycle-context';
import type { ContainerRecord } from './model';
import { killContainer, pauseContainer, restartContainer, stopContainer } from './process-control';
import { recordMonitor } from './monitor-record';
import { reconcileContainers } from './reconcile';
import { ShimPool } from './shim-pool';

export type { ExitResult } from './exit-waiters';
export type { LifecycleDeps } from './lifecycle-context';
export { parseSize } from './container-create';
export { startFailureCode } from './container-run';

/**
 * The container lifecycle, as the gRPC service sees it: create, start, stop, kill, restart,
 * delete, wait, and what happens when a process exits (restart policies, --rm). The shim holds
 * the process; each concern lives in its own module, and this class holds their shared state.
 */
export class Lifecycle implements LifecycleContext {
  readonly shims: ShimPool;
  readonly waiters = new ExitWaiters();
  readonly health: HealthMonitor;
  readonly restartTimers = new Map<string, NodeJS.Timeout>();
  readonly restartDelays = new Map<string, number>();
  readonly watching = new Set<string>();
  readonly signalledDirect = new Map<string, number>();
  readonly creating = new Set<string>();
  readonly removing = new Set<string>();

  constructor(readonly d: LifecycleDeps) {
    this.shims = new ShimPool(d.shimPath, (rec, monitor) => recordMonitor(d, rec, monitor), d.monitorPath && { path: d.monitorPath, execRoot: d.config.execRoot });
    this.health = new HealthMonitor({ d, shims: this.shims });
  }

  run(rec: ContainerRecord): Promise<void> {
    return runContainer(this, rec);
  }

  remove(rec: ContainerRecord, force: boolean, removeVolumes?: boolean): Promise<void> {
    return removeContainer(this, rec, force, removeVolumes);
  }

  exited(id: string, exitCode: number, exitedUnixMs: number, error = ''): void {
    handleExit(this, id, exitCode, exitedUnixMs, error);
  }

  /** Publishes a container event for work done outside the lifecycle (e.g. commit). */
  event(action: string, rec: ContainerRecord, extra?: Record<string, string>): void {
    this.d.event(action, rec, extra);
  }

  /** Makes sure the container's shim serves; starts one when none does (first use, or after a reboot). */
  ensureShim(rec: ContainerRecord): Promise<void> {
    return this.shims.ensure(rec);
  }

  create(nameIn: string, bodyJson: Uint8Array): Promise<{ id: string; warnings: string[] }> {
    return createContainer(this, nameIn, bodyJson);
  }

  start(ref: string): Promise<{ already: boolean }> {
    return startContainer(this, ref);
  }

  wait(ref: string, condition: string, registered: () => void): Promise<ExitResult> {
    return this.waiters.wait(this.d.containers.get(ref), condition, registered);
  }

  stop(ref: string, timeoutSeconds: number, signal: string): Promise<{ already: boolean }> {
    return stopContainer(this, ref, timeoutSeconds, signal);
  }

  restart(ref: string, timeoutSeconds: number, signal: string): Promise<void> {
    return restartContainer(this, ref, timeoutSeconds, signal);
  }

  kill(ref: string, signal: string): Promise<void> {
    return killContainer(this, ref, signal);
  }

  pause(ref: string, pause: boolean): Promise<void> {
    return pauseContainer(this, ref, pause);
  }

  rename(ref: string, newName: string): void {
    renameContainer(this.d, ref, newName);
  }

  delete(ref: string, force: boolean, removeVolumes = false): Promise<void> {
    return deleteContainer(this, ref, force, removeVolumes);
  }

  /** Where the container's shim serves; `servingOnly` never starts one (failed precondition then). */
  async shimAddress(ref: string, servingOnly = false): Promise<{ address: string; tty: boolean; openStdin: boolean; id: string }> {
    const rec = this.d.containers.get(ref);
    if (servingOnly) {
      if (!(await this.shims.serves(rec))) throw failedPrecondition(`container ${rec.id}: no monitor serves it now`);
    } else await traced('shimAddress: ensure', rec.id, this.shims.ensure(rec));
    return { id: rec.id, address: `unix://${rec.shimSocket}`, tty: rec.config.Tty, openStdin: rec.config.OpenStdin };
  }

  refreshExec(e: ExecRecord): Promise<void> {
    return refreshExec(this, e);
  }

  top(ref: string, psArgs: string): Promise<{ titles: string[]; processes: { columns: string[] }[] }> {
    return topContainer(this, ref, psArgs);
  }

  prune(filtersJson: string): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    return pruneContainers(this, filtersJson);
  }

  update(ref: string, bodyJson: Uint8Array): { warnings: string[] } {
    return updateContainer(this, ref, bodyJson);
  }

  reconcile(): Promise<void> {
    return reconcileContainers(this);
  }

  close(): void {
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.health.close();
    this.shims.close();
  }
}
