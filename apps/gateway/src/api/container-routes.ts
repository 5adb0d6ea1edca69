import { type ServiceError, status } from '@grpc/grpc-js';
import { Router, type Request, type Response } from 'express';
import express from 'express';
import { invalidArgument, isNotFound, messageOf } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import { shimV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';
import { filterContainers } from '../domain/container-filters';
import { framesFromPacked, logFrames } from '../domain/log-frames';
import { frame, parseTimestamp, SYSTEMERR } from '../domain/stdcopy';
import { compareVersions } from '../domain/api-version';
import { runAttach } from './attach-stream';
import { runExec } from './exec-stream';
import { plainStream } from './plain-stream';
import { removeLink } from './link-removal';
import { withSizes } from './disk-usage-routes';
import { parseSummaries } from '../domain/stored-records';
import { attachesEnded } from '../domain/live-attaches';
import { span, traced } from '@berth/logging';

const bool = (v: unknown) => v === '1' || v === 'true' || v === 'True';
const param = (req: Request, name: string) => String(req.params[name] ?? '');

/** The container endpoints (everything except hijacked attach, which the upgrade handler serves). */
export function containerRoutes(b: Backends): Router {
  const r = Router();
  const json = express.raw({ type: () => true, limit: '8mb' });

  r.post('/containers/create', json, async (req, res) => {
    const name = typeof req.query.name === 'string' ? req.query.name : '';
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const out = await b.createContainer(name, body).catch((err: unknown) => {
      // The docker CLI pulls the image on any 404 from create, so a missing network is an invalid
      // parameter; a missing image (and, as in dockerd, a missing --volumes-from container) stays a 404.
      if (isNotFound(err) && !/^No such (image|container)/.test(messageOf(err))) throw invalidArgument(messageOf(err));
      throw err;
    });
    res.status(201).json({ Id: out.id, Warnings: out.warnings });
  });

  r.get('/containers/json', async (req, res) => {
    const all = bool(req.query.all);
    const filters = typeof req.query.filters === 'string' && req.query.filters ? (JSON.parse(req.query.filters) as Record<string, unknown>) : {};
    const limit = Number(req.query.limit ?? -1);
    const list = await b.listContainers(all || limit > 0 || Object.keys(filters).length > 0);
    let rows = filterContainers(list, filters, all || limit > 0);
    if (limit > 0) rows = rows.slice(0, limit);
    const summaries = parseSummaries(rows);
    res.json(bool(req.query.size) ? await withSizes(b, summaries) : summaries);
  });

  r.get('/containers/:id/json', async (req, res) => {
    // The CLI's logs call follows its inspect: its monitor is looked up meanwhile, beside the
    // inspect's own call, for a stopped container too (the lookup starts no monitor).
    b.shimLookups.prefetch(param(req, 'id'));
    const c = await b.getContainer(param(req, 'id'));
    b.shimLookups.alias(param(req, 'id'), c.id);
    res.setHeader('Content-Type', 'application/json');
    res.end(Buffer.from(c.inspectJson));
  });

  r.post('/containers/:id/start', async (req, res) => {
    const out = await b.startContainer(param(req, 'id'));
    res.status(out.already ? 304 : 204).end();
  });

  const stopLike = (restart: boolean) => async (req: Request, res: Response) => {
    const t = req.query.t ?? req.query.timeout;
    const timeout = t === undefined || t === '' ? -1 : Number(t);
    if (!Number.isInteger(timeout)) throw invalidArgument(`invalid value for timeout: ${String(t)}`);
    const out = await b.stopContainer(param(req, 'id'), timeout, String(req.query.signal ?? ''), restart);
    res.status(!restart && out.already ? 304 : 204).end();
  };
  r.post('/containers/:id/stop', stopLike(false));
  r.post('/containers/:id/restart', stopLike(true));

  r.post('/containers/:id/kill', async (req, res) => {
    await b.killContainer(param(req, 'id'), String(req.query.signal ?? ''));
    res.status(204).end();
  });

  r.post('/containers/:id/wait', async (req, res) => {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const id = b.getContainer(param(req, 'id')).then((c) => c.id, () => '');
    const out = await b.waitContainer(
      param(req, 'id'),
      String(req.query.condition ?? ''),
      () => {
        res.status(200).setHeader('Content-Type', 'application/json');
        res.flushHeaders();
      },
      abort.signal,
    );
    const body: Record<string, unknown> = { StatusCode: out.exitCode };
    if (out.error) body.Error = { Message: out.error };
    const cid = await id;
    await traced('wait: attach streams ended', cid, attachesEnded(cid));
    res.end(JSON.stringify(body));
  });

  r.delete('/containers/:id', async (req, res) => {
    if (bool(req.query.link)) {
      await removeLink(b, param(req, 'id'));
      return void res.status(204).end();
    }
    await b.deleteContainer(param(req, 'id'), bool(req.query.force), bool(req.query.v));
    res.status(204).end();
  });

  r.post('/containers/:id/rename', async (req, res) => {
    await b.renameContainer(param(req, 'id'), String(req.query.name ?? ''));
    res.status(204).end();
  });

  r.post('/containers/:id/pause', async (req, res) => {
    await b.pauseContainer(param(req, 'id'), true);
    res.status(204).end();
  });
  r.post('/containers/:id/unpause', async (req, res) => {
    await b.pauseContainer(param(req, 'id'), false);
    res.status(204).end();
  });

  r.get('/containers/:id/top', async (req, res) => {
    const out = await b.topContainer(param(req, 'id'), String(req.query.ps_args ?? ''));
    res.json({ Titles: out.titles, Processes: out.processes.map((p) => p.columns) });
  });

  r.post('/containers/prune', async (req, res) => {
    const out = await b.pruneContainers(String(req.query.filters ?? ''));
    res.json({ ContainersDeleted: out.deleted.length ? out.deleted : null, SpaceReclaimed: out.spaceReclaimed });
  });

  r.post('/containers/:id/resize', async (req, res) => {
    const { client } = await b.shim(param(req, 'id'));
    const height = Number(req.query.h);
    const width = Number(req.query.w);
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) throw invalidArgument('invalid resize parameters');
    await new Promise<void>((resolve, reject) => client.resize({ height, width }, (err) => (err ? reject(err) : resolve())));
    client.close();
    res.status(200).end();
  });

  r.post('/containers/:id/exec', json, async (req, res) => {
    const id = await b.createExec(param(req, 'id'), Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    res.status(201).json({ Id: id });
  });

  r.get('/exec/:id/json', async (req, res) => {
    res.json(await b.inspectExec(param(req, 'id')));
  });

  r.post('/exec/:id/resize', async (req, res) => {
    const e = await b.inspectExec(param(req, 'id'));
    const { client } = await b.shim(String(e.ContainerID));
    await new Promise<void>((resolve, reject) =>
      client.resizeExec({ execId: param(req, 'id'), height: Number(req.query.h), width: Number(req.query.w) }, (err) => (err ? reject(err) : resolve())),
    );
    client.close();
    res.status(200).end();
  });

  // Without an Upgrade header (detached execs, simple API clients): output over the HTTP body.
  r.post('/exec/:id/start', json, async (req, res) => {
    const body = (Buffer.isBuffer(req.body) && req.body.length ? JSON.parse(req.body.toString('utf8')) : {}) as { Detach?: boolean; Tty?: boolean };
    const plain = plainStream(req);
    await new Promise<void>((resolve, reject) => {
      runExec(b, param(req, 'id'), {
        out: body.Detach ? res : plain.socket,
        detach: body.Detach ?? false,
        tty: body.Tty ?? false,
        onStarted: (ct) => {
          if (body.Detach) {
            res.status(200).setHeader('Content-Type', ct);
            res.flushHeaders();
          } else plain.writeHead(ct);
          resolve();
        },
        onError: reject,
      }).catch(reject);
    });
  });

  // Attach without `Upgrade: tcp` (dockerode's attach and run, docker-py's attach): same stream, 200.
  r.post('/containers/:id/attach', async (req) => {
    const q = new URL(req.originalUrl, 'http://berth').searchParams;
    const plain = plainStream(req);
    await runAttach(b, param(req, 'id'), q, req.apiVersion, { ...plain, head: Buffer.alloc(0), acceptStdin: false });

  });

  r.get('/containers/:id/logs', async (req, res) => {
    const stdout = bool(req.query.stdout);
    const stderr = bool(req.query.stderr);
    if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
    const ref = param(req, 'id');
    // A monitor looked up during the CLI's inspect (shim-lookups.ts) that has gone since is
    // asked of the supervisor again, once: that call failed before any output.
    const looked = b.shimLookups.take(ref);
    const lookup = span(looked.prefetched ? 'logs: prefetched lookup' : 'logs: supervisor lookup', ref);
    const prefetched = looked.prefetched ? await looked.answer.catch(() => undefined) : undefined;
    const shim = prefetched ?? (looked.prefetched ? await b.shimLookups.fresh(ref).answer : await looked.answer);
    lookup();
    if ((await serveLogs(req, res, shim, prefetched !== undefined)) === RETRY) await serveLogs(req, res, await b.shimLookups.fresh(ref).answer, false);
  });

  return r;
}

const RETRY = Symbol('retry');

/** One Logs call to the container's monitor, written to `res`; RETRY when `retryable` and the monitor was not there. */
async function serveLogs(req: Request, res: Response, shim: { client: shimV1.ShimClient; tty: boolean }, retryable: boolean): Promise<typeof RETRY | undefined> {
  const stdout = bool(req.query.stdout);
  const stderr = bool(req.query.stderr);
  const { client, tty } = shim;
  const multiplexed = !tty;
  // The docker CLI only copies frames out: lines of one stream may share a frame (log-frames.ts).
  const merge = multiplexed && /^Docker-Client\//.test(req.get('user-agent') ?? '');
  const tailQ = String(req.query.tail ?? 'all');
  const tail = tailQ === 'all' || tailQ === '' ? -1 : Number(tailQ);
  const timestamps = bool(req.query.timestamps);
  const [sinceUnixSec, sinceNanos] = parseTimestamp(req.query.since as string | undefined);
  const [untilUnixSec, untilNanos] = parseTimestamp(req.query.until as string | undefined);
  const opened = span('logs: monitor open to headers');
  const call = client.logs({
    follow: bool(req.query.follow),
    stdout,
    stderr,
    sinceUnixNano: 0,
    untilUnixNano: 0,
    sinceUnixSec,
    sinceNanos,
    untilUnixSec,
    untilNanos,
    tail: Number.isInteger(tail) ? tail : -1,
    batch: true,
    packed: true,
    // Without a time prefix the shim sends the client's bytes, written here as they come.
    frames: !timestamps,
    framesMerged: merge,
    framesRaw: !multiplexed,
  });
  // Headers go out once the shim has the log open, so a log that cannot be read is an HTTP
  // error; after that an error is reported in the stream, as dockerd does (stream 3).
  return new Promise<typeof RETRY | undefined>((resolve, reject) => {
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      opened();
      res.status(200);
      res.type(multiplexed && compareVersions(req.apiVersion, '1.42') >= 0 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream');
      res.flushHeaders();
      resolve(undefined);
    };
    let cancelled = false;
    res.on('close', () => {
      cancelled = true;
      call.cancel();
    });
    call.on('metadata', start);
    call.on('data', (m: shimV1.LogEntry) => {
      start();
      const bytes = m.frames.length ? m.frames : m.packed.length ? framesFromPacked(m.packed, { multiplexed, timestamps, merge }) : logFrames(m.batch.length ? m.batch : [m], { multiplexed, timestamps });
      if (!res.write(bytes)) {
        call.pause();
        res.once('drain', () => call.resume());
      }
    });
    let failed = false;
    // grpc-js emits 'end' after 'error' too.
    call.on('end', () => {
      if (failed) return;
      start();
      res.end();
      client.close();
    });
    call.on('error', (err: ServiceError) => {
      failed = true;
      client.close();
      if (cancelled) return;
      if (!started) return retryable && err.code === status.UNAVAILABLE ? resolve(RETRY) : reject(fromServiceError(err, 'shim'));
      const msg = Buffer.from(`Error grabbing logs: ${fromServiceError(err, 'shim').message}\n`);
      res.end(multiplexed ? frame(SYSTEMERR, msg) : msg);
    });
  });
}

