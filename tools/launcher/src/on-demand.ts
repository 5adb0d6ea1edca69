import { mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { IDLE_EXIT_CODE } from '@berth/config';
import type { Child } from './child';
import type { ChildState } from './state';

/** What `status` shows for a service that waits for its first caller. */
export const IDLE_STATUS = 'idle';

/**
 * A service started by the first connection to its socket, the way systemd's socket activation
 * starts dockerd from docker.socket: until then the launcher listens on the service's path and
 * the service costs nothing. The connections that came first are not handed over: they are held
 * open, unanswered, until the service is ready, then closed. grpc-js counts a channel as connected
 * only once the server's HTTP/2 settings arrive, so its caller waits on that attempt instead of
 * backing off on a missing path, and reconnects 100 ms after the close (`@berth/grpc` connect) to
 * the service, which has bound the same path by then. Callers must wait for the channel
 * (waitForReady with a deadline). Once started it is an ordinary child (restarted when it dies).
 */
export class OnDemand {
  private listener: Server | undefined;
  /** Connections accepted before the service was up, closed once it is. */
  private readonly held = new Set<Socket>();
  private started = false;

  constructor(
    private readonly name: string,
    private readonly socket: string,
    private readonly child: Child,
    private readonly onChange: () => void,
    private readonly say: (msg: string) => void,
  ) {
    child.exitHandledBy = (code) => {
      if (code !== IDLE_EXIT_CODE) return false;
      // It left because it had nothing to do: hold its socket again until the next caller.
      this.started = false;
      this.say(`${this.name} exited idle; it starts again on its next use`);
      this.start().catch((err: unknown) => {
        this.say(`${this.name}: cannot listen for its next use (${err instanceof Error ? err.message : String(err)}); starting it now`);
        void this.activate('its socket could not be held');
      });
      return true;
    };
  }

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
      conn.on('error', () => undefined);
      this.held.add(conn);
      void this.activate('a first connection');
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
    this.closeListener();
    this.say(`${this.name}: starting on demand (${why})`);
    try {
      await this.child.start();
    } catch (err) {
      this.say(`${this.name} failed to start on demand: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      for (const c of this.held) c.destroy();
      this.held.clear();
    }
  }

  /** Stops listening; the path is unlinked at once (held connections do not keep it). */
  private closeListener(): void {
    this.listener?.close();
    this.listener = undefined;
  }

  async stop(): Promise<void> {
    if (!this.started) {
      this.closeListener();
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
