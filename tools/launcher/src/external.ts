import type { ServiceName } from '@berth/config';
import type { ChildState } from './state';
import { probeHealthy } from './health-probe';

/** How long start-up waits for a service someone else runs before it gives up. */
export const EXTERNAL_READY_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const SAY_EVERY_MS = 5_000;

/**
 * A service left to another process (`"managed": false` in the config): the launcher waits for
 * its address to answer health checks and reports it, but never starts, stops or restarts it.
 * It has the shape of `Child` so the launcher treats both alike.
 */
export class External {
  readonly state: ChildState = { pid: 0, startedAtUnixMs: 0, restarts: 0, status: 'external' };

  constructor(
    private readonly name: ServiceName,
    private readonly address: string,
    private readonly say: (msg: string) => void,
    private readonly readyTimeoutMs = EXTERNAL_READY_TIMEOUT_MS,
  ) {}

  async start(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let nextSay = Date.now();
    while (!(await probeHealthy(this.address, 2_000))) {
      if (Date.now() > deadline) throw new Error(`${this.name} (not managed by this launcher) did not answer at ${this.address} within ${this.readyTimeoutMs} ms`);
      if (Date.now() >= nextSay) {
        this.say(`waiting for ${this.name} at ${this.address} (not managed by this launcher)`);
        nextSay = Date.now() + SAY_EVERY_MS;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    await this.refresh();
  }

  /** Reads the pid and start time the service reports of itself, for `status`. */
  async refresh(): Promise<void> {
    // Loaded only where a service is external: grpc-js and the contracts cost the launcher more
    // heap than everything else it runs (docs/decisions.md).
    const { serviceInfo } = await import('@berth/clients');
    const info = await serviceInfo(this.name, this.address, { deadlineMs: 2_000 }).catch(() => undefined);
    this.state.pid = info?.pid ?? 0;
    this.state.startedAtUnixMs = info ? Number(info.startedAtUnixMs) : 0;
  }

  async stop(): Promise<void> {
    // Not ours to stop.
  }

  async restart(): Promise<void> {
    throw new Error(`${this.name} is not managed by this launcher (services.${this.name}.managed is false): restart it where it runs`);
  }
}
