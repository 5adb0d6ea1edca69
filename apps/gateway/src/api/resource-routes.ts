import { Router, type Request } from 'express';
import express from 'express';
import { isNotFound } from '@berth/errors';
import type { Backends } from '../domain/backends';

const STATS_INTERVAL_MS = 1000;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const param = (req: Request, name: string) => String(req.params[name] ?? '');
const flag = (v: unknown, dflt: boolean) => (v === undefined || v === '' ? dflt : v === '1' || v === 'true' || v === 'True');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

type Sample = Record<string, unknown> & { read: string; cpu_stats: unknown };

/** The previous sample becomes this one's pre-values, as dockerd's collector hands them out. */
function withPrevious(cur: Sample, prev: Sample | undefined): Sample {
  if (!prev || prev.read === ZERO_TIME) return cur;
  return { ...cur, preread: prev.read, precpu_stats: prev.cpu_stats };
}

/** `docker stats` and `docker update`. */
export function resourceRoutes(b: Backends): Router {
  const r = Router();
  const json = express.raw({ type: () => true, limit: '1mb' });

  r.get('/containers/:id/stats', async (req, res) => {
    const ref = param(req, 'id');
    const stream = flag(req.query.stream, true);
    const oneShot = flag(req.query['one-shot'], false);
    const sample = async () => {
      const s = await b.containerStats(ref);
      return { running: s.running, stats: JSON.parse(Buffer.from(s.statsJson).toString('utf8')) as Sample };
    };
    // The first call answers 404 for an unknown container before any header goes out.
    let first = await sample();
    res.status(200).setHeader('Content-Type', 'application/json');
    if (!stream) {
      // Without one-shot, dockerd waits for a second sample so that CPU % can be computed.
      if (!oneShot && first.running) {
        await sleep(STATS_INTERVAL_MS);
        const second = await sample().catch(() => first);
        first = { ...second, stats: withPrevious(second.stats, first.stats) };
      }
      res.end(`${JSON.stringify(first.stats)}\n`);
      return;
    }
    let closed = false;
    res.on('close', () => (closed = true));
    res.flushHeaders();
    let prev: Sample | undefined;
    let cur = first;
    for (;;) {
      if (cur.running) {
        const ok = res.write(`${JSON.stringify(withPrevious(cur.stats, prev))}\n`);
        prev = cur.stats;
        if (!ok) await new Promise((resolve) => res.once('drain', resolve));
      }
      await sleep(STATS_INTERVAL_MS);
      if (closed) return;
      try {
        cur = await sample();
      } catch (err) {
        // A removed container ends the stream; a passing failure skips one tick.
        if (isNotFound(err)) break;
      }
    }
    res.end();
  });

  r.post('/containers/:id/update', json, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const out = await b.updateContainer(param(req, 'id'), body);
    res.status(200).json({ Warnings: out.warnings });
  });

  return r;
}
