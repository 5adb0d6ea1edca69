import { Router } from 'express';
import type { EngineEvent, EventLog } from '@berth/events';
import { invalidArgument } from '@berth/errors';

const KNOWN = new Set(['type', 'event', 'container', 'image', 'label', 'network', 'volume', 'scope', 'daemon']);

function values(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.keys(v).filter((k) => (v as Record<string, unknown>)[k]);
  return [];
}

/** `docker events --since/--until` accept unix seconds (with fraction) or RFC3339; durations are made absolute by the CLI. */
function timeMs(v: unknown): number | undefined {
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  if (/^\d+(\.\d+)?$/.test(s)) return Math.floor(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalidArgument(`invalid value for time: ${s}`);
  return t;
}

export function matches(e: EngineEvent, f: Record<string, unknown>): boolean {
  const has = (k: string, ok: (x: string) => boolean) => values(f[k]).length === 0 || values(f[k]).some(ok);
  const name = e.Actor.Attributes.name ?? '';
  return (
    has('type', (x) => x === e.Type) &&
    has('event', (x) => x === e.Action || e.Action.startsWith(`${x}:`)) &&
    has('container', (x) => e.Type === 'container' && (e.Actor.ID.startsWith(x) || name === x)) &&
    has('image', (x) => e.Actor.Attributes.image === x || (e.Type === 'image' && (name === x || e.Actor.ID === x))) &&
    // Docker's fuzzy match on the actor: its ID or name, exact or as a prefix, for any event type.
    has('network', (x) => e.Actor.ID.startsWith(x) || name.startsWith(x)) &&
    has('volume', (x) => e.Actor.ID.startsWith(x) || name.startsWith(x)) &&
    has('daemon', (x) => e.Actor.ID.startsWith(x) || name.startsWith(x)) &&
    has('scope', (x) => x === e.scope) &&
    has('label', (x) => {
      const i = x.indexOf('=');
      return i < 0 ? x in e.Actor.Attributes : e.Actor.Attributes[x.slice(0, i)] === x.slice(i + 1);
    })
  );
}

export function eventRoutes(events: EventLog): Router {
  const r = Router();
  r.get('/events', async (req, res) => {
    const filters = typeof req.query.filters === 'string' && req.query.filters ? (JSON.parse(req.query.filters) as Record<string, unknown>) : {};
    for (const k of Object.keys(filters)) if (!KNOWN.has(k)) throw invalidArgument(`invalid filter '${k}'`);
    const sinceMs = timeMs(req.query.since);
    const untilMs = timeMs(req.query.until);
    // Before the 200: during a Redis outage the client gets a 503 it can show, not a silent wait.
    await events.ping();
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.status(200).setHeader('Content-Type', 'application/json');
    res.flushHeaders();
    for await (const e of events.read({ sinceMs, untilMs, follow: true, signal: abort.signal })) {
      if (!matches(e, filters)) continue;
      if (!res.write(`${JSON.stringify({ ...e, status: e.Type === 'container' || e.Type === 'image' ? e.Action : undefined, id: e.Actor.ID, from: e.Actor.Attributes.image })}\n`)) {
        await new Promise((r2) => res.once('drain', r2));
      }
    }
    res.end();
  });
  return r;
}
