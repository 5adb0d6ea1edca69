import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { Router, type Request, type Response } from 'express';
import { unary } from '@berth/clients';
import { HTTP_STATUS, invalidArgument, kindOf, messageOf } from '@berth/errors';
import { channelReady, fromServiceError } from '@berth/grpc';
import type { builderV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';

/** dockerd's httputils.BoolValue: anything but '', '0', 'no', 'false' and 'none' is true. */
const truthy = (v: unknown) => typeof v === 'string' && !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());

function jsonQuery<T>(req: Request, key: string, fallback: T): T {
  const v = req.query[key];
  if (v === undefined || v === '') return fallback;
  try {
    return JSON.parse(String(v)) as T;
  } catch {
    throw invalidArgument(`invalid ${key} JSON: ${String(v)}`);
  }
}

const list = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String).filter(Boolean);
const int = (v: unknown) => {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid number: ${String(v)}`);
  return n;
};

/** POST /build's query as the builder's options (the Engine API's names and defaults). */
export function buildOptions(req: Request): builderV1.BuildOptions {
  const q = req.query;
  if (String(q.version ?? '1') === '2') throw invalidArgument('BuildKit is not supported by Berth: use the classic builder (DOCKER_BUILDKIT=0)');
  const args = jsonQuery<Record<string, string | null>>(req, 'buildargs', {});
  const labels = jsonQuery<Record<string, string>>(req, 'labels', {});
  const buildArgs: Record<string, string> = {};
  const nullBuildArgs: string[] = [];
  for (const [k, v] of Object.entries(args)) {
    if (v === null) nullBuildArgs.push(k);
    else buildArgs[k] = String(v);
  }
  const ulimits = jsonQuery<unknown[]>(req, 'ulimits', []);
  const extraHosts = list(q.extrahosts).flatMap((h) => h.split(',')).filter(Boolean);
  return {
    tags: list(q.t),
    dockerfile: String(q.dockerfile ?? ''),
    remote: String(q.remote ?? ''),
    buildArgs,
    nullBuildArgs,
    noCache: truthy(q.nocache),
    pull: truthy(q.pull),
    rm: q.rm === undefined ? true : truthy(q.rm),
    forceRm: truthy(q.forcerm),
    quiet: truthy(q.q),
    target: String(q.target ?? ''),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
    networkMode: String(q.networkmode ?? ''),
    platform: String(q.platform ?? ''),
    extraHosts,
    shmSize: int(q.shmsize),
    memory: int(q.memory),
    memorySwap: int(q.memswap),
    cpuShares: int(q.cpushares),
    cpuPeriod: int(q.cpuperiod),
    cpuQuota: int(q.cpuquota),
    cpusetCpus: String(q.cpusetcpus ?? ''),
    cpusetMems: String(q.cpusetmems ?? ''),
    ulimitsJson: Buffer.from(ulimits.length ? JSON.stringify(ulimits) : ''),
    cacheFrom: jsonQuery<string[]>(req, 'cachefrom', []),
    isolation: String(q.isolation ?? ''),
  };
}

/** How long a build waits for a builder that starts on its first use (or restarts). */
const BUILDER_READY_MS = 60_000;

/**
 * `docker build` (the classic builder API): the request body (the context tar) streams to
 * the builder service with backpressure both ways; its Docker JSON messages stream back.
 * Options the builder refuses before reading come back as a 400 with `{"message"}`.
 */
export function buildRoutes(b: Backends): Router {
  const r = Router();

  r.post('/build', async (req: Request, res: Response) => {
    const options = buildOptions(req);
    try {
      // The builder may be starting on demand (or restarting): wait for it, not for ever.
      await channelReady('builder', b.peers.builder, BUILDER_READY_MS);
    } catch (err) {
      req.resume();
      throw err;
    }
    if (res.writableEnded || req.destroyed) return;
    const call: ClientDuplexStream<builderV1.BuildRequest, builderV1.BuildMessage> = b.peers.builder.build();
    let started = false;
    let done = false;
    const start = () => {
      if (!started) {
        started = true;
        res.status(200).setHeader('Content-Type', 'application/json');
      }
    };
    call.write({ options, data: Buffer.alloc(0) });
    req.on('data', (chunk: Buffer) => {
      if (!call.write({ options: undefined, data: chunk })) {
        req.pause();
        call.once('drain', () => req.resume());
      }
    });
    req.on('end', () => call.end());
    req.on('aborted', () => call.cancel());
    res.on('close', () => {
      if (!done) call.cancel();
    });
    call.on('data', (m: builderV1.BuildMessage) => {
      start();
      if (!res.write(`${m.json}\r\n`)) {
        call.pause();
        res.once('drain', () => call.resume());
      }
    });
    call.on('end', () => {
      if (done) return;
      done = true;
      start();
      res.end();
    });
    call.on('error', (err: ServiceError) => {
      if (done) return;
      done = true;
      const e = fromServiceError(err, 'builder');
      if (!started) {
        req.resume();
        res.status(HTTP_STATUS[kindOf(e)]).json({ message: messageOf(e) });
        return;
      }
      res.end(`${JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) })}\r\n`);
    });
  });

  r.post('/build/prune', async (req: Request, res: Response) => {
    const c = b.peers.builder;
    const out = await unary('builder', c.pruneCache.bind(c), { all: truthy(req.query.all) }, { deadlineMs: 10 * 60_000, idempotent: false, waitForReady: true });
    res.json({ CachesDeleted: out.deleted.length ? out.deleted : null, SpaceReclaimed: Number(out.spaceReclaimed) });
  });

  r.post('/build/cancel', (_req: Request, res: Response) => {
    res.status(200).end();
  });

  return r;
}
