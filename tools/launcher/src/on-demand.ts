import { mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { Child } from './child';
import type { ChildState } from './state';

/** What `status` shows for a service that waits for its first caller. */
export const IDLE_STATUS = 'idle';

/**
 * A service started by the first connection to its socket, the way systemd's socket activation
 * starts dockerd from docker.socket: until then the launcher listens on the service's path and
 * the service costs nothing. The first connection is closed rather than handed over: grpc-js
 * takes that as a transient failure and reconnects (100 ms backoff, `@berth/grpc` connect), and
 * callers that wait for the channel (waitForReady with a deadline) reach the service once it
 * binds the same path. Once started it is an ordinary child (restarted when it dies).
 */
export class OnDemand {
  private listener: Server | undefined;
  private started = false;

  constructor(
    private readonly name: string,
    private readonly socket: string,
    private readonly child: Child,
    private readonly onChange: () => void,
    private readonly say: (msg: string) => void,
  ) {}

  get state(): ChildState {
    return this.child.state;
  }

  /** Listens on the service's path (a stale socket from an earlier run is replaced). */
  async start(): Promise<void> {
    mkdirSync(dirname(this.socket), { recursive: true });
    try {
      if (statSync(this.socket).isSocket()) rmSync(this.socket);
    } catch {
      // absent
    }
    const listener = createServer((conn) => {
      conn.destroy();
      this.activate('a first connection');
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.socket, () => resolve());
    });
    listener.on('error', (err) => this.say(`${this.name}: activation socket: ${err.message}`));
    this.listener = listener;
    this.state.status = IDLE_STATUS;
    this.onChange();
  }

  /** Starts the service now (idempotent); resolves once it is ready or failed to be. */
  async activate(why: string): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Closing unlinks the path; it must happen before the service binds the same path, or the
    // unlink would take the service's socket away.
    await this.closeListener();
    this.say(`${this.name}: starting on demand (${why})`);
    try {
      await this.child.start();
    } catch (err) {
      this.say(`${this.name} failed to start on demand: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async closeListener(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    if (l) await new Promise<void>((resolve) => l.close(() => resolve()));
  }

  async stop(): Promise<void> {
    if (!this.started) {
      await this.closeListener();
      this.state.status = 'stopped';
      this.onChange();
      return;
    }
    await this.child.stop();
  }

  /** An idle service stays idle: the next caller starts the new build of it anyway. */
  async restart(): Promise<void> {
    if (!this.started) return;
    await this.child.restart();
  }
}
