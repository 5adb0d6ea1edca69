import type { EventEmitter } from 'node:events';

type Handler = (call: EventEmitter, callback?: (...args: unknown[]) => void) => unknown;

/**
 * Calls in flight and when the last one ended: a shim whose container is not running exits
 * once nobody has used it for a while, and the supervisor starts a new one when it is needed.
 */
export class Activity {
  private inFlight = 0;
  private lastEndMs = Date.now();

  idleForMs(): number {
    return this.inFlight > 0 ? 0 : Date.now() - this.lastEndMs;
  }

  /** The same service implementation, with every call counted from arrival to its end. */
  track<T extends object>(impl: T): T {
    const out: Record<string, Handler> = {};
    for (const [name, fn] of Object.entries(impl) as [string, Handler][]) {
      out[name] = (call, callback) => {
        this.inFlight++;
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          this.inFlight--;
          this.lastEndMs = Date.now();
        };
        call.once('cancelled', end);
        if (typeof callback === 'function') {
          return fn(call, (...args: unknown[]) => {
            end();
            callback(...args);
          });
        }
        // A stream is over when we have finished writing, or when it closes or fails first.
        for (const e of ['finish', 'close', 'error']) call.once(e, end);
        return fn(call);
      };
    }
    return out as T;
  }
}
