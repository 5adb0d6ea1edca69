import { Redis } from 'ioredis';
import { unavailable } from '@berth/errors';
import { counter } from '@berth/metrics';

// dockerd's name for the events it logged; labelled here by type and by the service that sent it.
const eventsTotal = counter('engine_daemon_events_total', 'The number of events logged, by type.', ['type']);

/** An Engine API event (`docker events`), as Docker writes it. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export const EVENT_STREAM = 'berth:events';
/** Docker keeps the last 256 events in memory; a Redis stream lets us keep many more, bounded. */
export const MAX_EVENTS = 100_000;
export const DEFAULT_PING_TIMEOUT_MS = 5_000;

function connectRedis(url: string): Redis {
  const opts = { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: true } as const;
  return url.startsWith('unix://') ? new Redis({ path: url.slice('unix://'.length), ...opts }) : new Redis(url, opts);
}

/**
 * The event stream on Redis. Producers (supervisor, images, ...) append; the gateway replays
 * (`--since`) and follows. Stream IDs are millisecond times, so replay by time is a range read.
 */
export class EventLog {
  private readonly redis: Redis;
  private closed = false;

  constructor(url: string) {
    this.redis = connectRedis(url);
    this.redis.on('error', () => undefined);
  }

  /** Appends an event; failures are returned, never thrown past the caller's catch. */
  async publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): Promise<void> {
    const nowMs = Date.now();
    const e: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(nowMs / 1000),
      timeNano: nowMs * 1e6 + (Number(process.hrtime.bigint() % 1_000_000n)),
    };
    await this.redis.xadd(EVENT_STREAM, 'MAXLEN', '~', String(MAX_EVENTS), '*', 'e', JSON.stringify(e));
    eventsTotal.inc({ type });
  }

  /**
   * Events from `sinceMs` (or only new ones when undefined) until `untilMs` (or for as long
   * as the signal allows when following).
   */
  async *read(opts: { sinceMs?: number; untilMs?: number; follow: boolean; signal: AbortSignal }): AsyncGenerator<EngineEvent> {
    let last = opts.sinceMs !== undefined ? `${Math.max(0, opts.sinceMs)}-0` : undefined;
    const until = opts.untilMs;
    if (last !== undefined) {
      const rows = await this.redis.xrange(EVENT_STREAM, last, until !== undefined ? String(until) : '+');
      for (const [id, fields] of rows) {
        last = id;
        yield JSON.parse(fields[1]!) as EngineEvent;
      }
      // xrange's start is inclusive; continue after what was read.
      if (rows.length) last = rows[rows.length - 1]![0];
    }
    if (!opts.follow || (until !== undefined && until <= Date.now())) return;
    // A blocking read needs a connection of its own.
    const sub = this.redis.duplicate();
    sub.on('error', () => undefined);
    const stop = () => sub.disconnect();
    opts.signal.addEventListener('abort', stop, { once: true });
    try {
      let from = last ?? (await this.lastId());
      while (!opts.signal.aborted) {
        const block = until !== undefined ? Math.max(1, until - Date.now()) : 0;
        const res = await sub.xread('BLOCK', block, 'STREAMS', EVENT_STREAM, from).catch(() => null);
        if (opts.signal.aborted) return;
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            from = id;
            const e = JSON.parse(fields[1]!) as EngineEvent;
            if (until !== undefined && e.time * 1000 > until) return;
            yield e;
          }
        }
        if (until !== undefined && Date.now() >= until) return;
      }
    } finally {
      opts.signal.removeEventListener('abort', stop);
      sub.disconnect();
    }
  }

  /**
   * Resolves when Redis answers within `timeoutMs`; otherwise an `unavailable` error, so a reader
   * gets a clear answer during an outage instead of a request that waits for Redis to return.
   */
  async ping(timeoutMs = DEFAULT_PING_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`the event stream is unavailable: Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async lastId(): Promise<string> {
    const rows = await this.redis.xrevrange(EVENT_STREAM, '+', '-', 'COUNT', 1);
    return rows[0]?.[0] ?? '0-0';
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.redis.disconnect();
  }
}
