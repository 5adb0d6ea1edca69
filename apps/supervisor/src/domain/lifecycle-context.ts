import { join } from 'node:path';
import type { BerthConfig } from '@berth/config';
import type { Peers } from '@berth/clients';
import type { Logger } from '@berth/logging';
import type { Containers } from './containers';
import type { ExitWaiters } from './exit-waiters';
import type { ContainerRecord } from './model';
import type { ShimPool } from './shim-pool';

export interface LifecycleDeps {
  config: BerthConfig;
  dataDir: string;
  containers: Containers;
  peers: Peers;
  shimPath: () => string;
  /** The conmon-based monitor's artifact, for containers whose record names it. */
  monitorPath?: () => string;
  logger: Logger;
  /** Publishes a Docker event (container actions); never throws. */
  event: (action: string, rec: ContainerRecord, extra?: Record<string, string>) => void;
}

/**
 * What the lifecycle's parts share: the dependencies, the per-container runtime state kept in
 * memory, and the three operations that cross concerns (a run may end in an auto-remove, an
 * exit may schedule a run, a reconcile may find an exit). The Lifecycle wires these.
 */
export interface LifecycleContext {
  readonly d: LifecycleDeps;
  readonly shims: ShimPool;
  readonly waiters: ExitWaiters;
  readonly health: HealthWatch;
  /** Restart policy timers and the last back-off delay, per container. */
  readonly restartTimers: Map<string, NodeJS.Timeout>;
  readonly restartDelays: Map<string, number>;
  /** Containers with a Wait open on their shim. */
  readonly watching: Set<string>;
  /** The last signal sent straight to a container whose shim was gone (its exit code then). */
  readonly signalledDirect: Map<string, number>;
  /** Containers between their network attach and their first record write. */
  readonly creating: Set<string>;
  /** Removals in progress right now. */
  readonly removing: Set<string>;
  run(rec: ContainerRecord): Promise<void>;
  remove(rec: ContainerRecord, force: boolean, removeVolumes?: boolean): Promise<void>;
  exited(id: string, exitCode: number, exitedUnixMs: number, error?: string): void;
}

/** What the lifecycle tells the health checks (HealthMonitor). */
export interface HealthWatch {
  started(rec: ContainerRecord): void;
  resume(rec: ContainerRecord): void;
  stopped(id: string): void;
  close(): void;
}

export const now = () => new Date().toISOString();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Where a container's OCI bundle lives (exec root: gone after a reboot). */
export function bundleDir(d: LifecycleDeps, id: string): string {
  return join(d.config.execRoot, 'bundles', id);
}

/** Where a container's own files live (log, hosts, resolv.conf). */
export function filesDir(d: LifecycleDeps, id: string): string {
  return join(d.dataDir, 'containers', id);
}
