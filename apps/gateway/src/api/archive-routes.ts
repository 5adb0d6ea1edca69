import express, { Router, type Request, type Response } from 'express';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { unary } from '@berth/clients';
import { invalidArgument } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import type { supervisorV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';
import { abandonUpload } from './uploads';

const bool = (v: unknown) => v === '1' || v === 'true' || v === 'True';
const STAT_HEADER = 'X-Docker-Container-Path-Stat';
const UPLOAD_MESSAGE_BYTES = 1 << 20;

function pathOf(req: Request): string {
  const p = typeof req.query.path === 'string' ? req.query.path : '';
  if (!p) throw invalidArgument('path is required');
  return p;
}

function statHeader(s: supervisorV1.ContainerPathStat): string {
  return Buffer.from(JSON.stringify({ name: s.name, size: s.size, mode: s.mode, mtime: s.mtime, linkTarget: s.linkTarget })).toString('base64');
}

/**
 * Pipes a stream of archive chunks to the response as application/x-tar. Nothing is sent
 * before the first message, so an error up to then (not found, bad path) is still a proper
 * HTTP error; after that it can only cut the stream.
 */
function sendTar(call: ClientReadableStream<supervisorV1.ArchiveChunk>, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    let started = false;
    const start = (stat?: supervisorV1.ContainerPathStat) => {
      if (started) return;
      started = true;
      if (stat) res.setHeader(STAT_HEADER, statHeader(stat));
      res.status(200).setHeader('Content-Type', 'application/x-tar');
    };
    res.on('close', () => call.cancel());
    call.on('data', (m: supervisorV1.ArchiveChunk) => {
      start(m.stat);
      if (m.data.length && !res.write(m.data)) {
        call.pause();
        res.once('drain', () => call.resume());
      }
    });
    // The archive is whole only after both: 'end' (every buffered message was read; it also
    // comes before a failure's 'error') and an OK status (which can come while paused
    // messages are still waiting to be read).
    let ended = false;
    let ok = false;
    const finish = () => {
      if (!ended || !ok) return;
      start();
      res.end();
      resolve();
    };
    call.on('end', () => {
      ended = true;
      finish();
    });
    call.on('status', (st: { code: number }) => {
      ok = st.code === 0;
      finish();
    });
    call.on('error', (err: ServiceError) => {
      if (!started) reject(fromServiceError(err, 'supervisor'));
      else {
        res.destroy();
        resolve();
      }
    });
  });
}

/** The archive endpoints (`docker cp`), `docker export` and `docker diff`. */
export function archiveRoutes(b: Backends): Router {
  const r = Router();
  const c = () => b.peers.containers;
  const id = (req: Request) => String(req.params.id ?? '');

  r.head('/containers/:id/archive', async (req, res) => {
    const s = await unary('supervisor', c().statContainerPath.bind(c()), { reference: id(req), path: pathOf(req) });
    res.setHeader(STAT_HEADER, statHeader(s));
    res.status(200).end();
  });

  r.get('/containers/:id/archive', async (req, res) => {
    const path = pathOf(req);
    await sendTar(c().getArchive({ reference: id(req), path }), res);
  });

  r.put('/containers/:id/archive', async (req, res) => {
    const path = pathOf(req);
    const reference = id(req);
    const noOverwriteDirNonDir = bool(req.query.noOverwriteDirNonDir);
    const copyUidGid = bool(req.query.copyUIDGID);
    await new Promise<void>((resolve, reject) => {
      const call = c().putArchive((err: ServiceError | null) => {
        if (!err) return resolve();
        abandonUpload(req);
        reject(fromServiceError(err, 'supervisor'));
      });
      let first = true;
      const send = (data: Buffer) => {
        const ok = call.write({ reference: first ? reference : '', path: first ? path : '', noOverwriteDirNonDir, copyUidGid, data });
        first = false;
        return ok;
      };
      send(Buffer.alloc(0));
      // HTTP hands out small chunks; about 1 MiB per message keeps per-message costs down.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        const ok = send(Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
        return ok;
      };
      req.on('data', (chunk: Buffer) => {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= UPLOAD_MESSAGE_BYTES && !flush()) {
          req.pause();
          call.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        if (pendingBytes > 0) flush();
        call.end();
      });
      req.on('error', (err) => {
        call.cancel();
        reject(err);
      });
    });
    res.status(200).end();
  });

  r.get('/containers/:id/export', async (req, res) => {
    await sendTar(c().exportContainer({ reference: id(req) }), res);
  });

  r.get('/containers/:id/changes', async (req, res) => {
    const out = await unary('supervisor', c().containerChanges.bind(c()), { reference: id(req) });
    res.json(out.changes.map((x) => ({ Path: x.path, Kind: x.kind })));
  });

  r.post('/commit', express.raw({ type: () => true, limit: '8mb' }), async (req, res) => {
    const q = req.query;
    const container = typeof q.container === 'string' ? q.container : '';
    if (!container) throw invalidArgument('container is required');
    const repo = typeof q.repo === 'string' ? q.repo : '';
    const tagQ = typeof q.tag === 'string' ? q.tag : '';
    if (!repo && tagQ) throw invalidArgument('tag requires a repository');
    const changes = ([] as unknown[]).concat(q.changes ?? []).map(String).filter(Boolean);
    const out = await unary(
      'supervisor',
      c().commitContainer.bind(c()),
      {
        reference: container,
        tag: repo ? `${repo}${tagQ ? `:${tagQ}` : ''}` : '',
        comment: typeof q.comment === 'string' ? q.comment : '',
        author: typeof q.author === 'string' ? q.author : '',
        changes,
        // Docker pauses unless told not to.
        pause: q.pause === undefined ? true : bool(q.pause),
        configJson: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        replaceConfig: false,
        createdBy: '',
      },
      { deadlineMs: 3600_000, idempotent: false },
    );
    res.status(201).json({ Id: out.id });
  });

  return r;
}
