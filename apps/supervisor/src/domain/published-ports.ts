import type { LifecycleDeps } from './lifecycle-context';
import { withRetry } from './background-retry';
import { setPublished } from './network-attach';

/** Publishes a container's host ports as it starts. */
export async function publish(d: LifecycleDeps, id: string): Promise<void> {
  await setPublished(d.peers, d.containers, id, true);
}

/** Stopped containers hold no host ports, as in Docker; failures only log (rm releases all). */
export async function unpublish(d: LifecycleDeps, id: string): Promise<void> {
  await withRetry(`unpublish ${id}`, () => setPublished(d.peers, d.containers, id, false), d.logger);
}
