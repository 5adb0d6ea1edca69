import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import express, { Router, type Request, type Response } from 'express';
import { unary } from '@berth/clients';
import { HTTP_STATUS, invalidArgument, kindOf, messageOf } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';

/** X-Registry-Auth: base64url JSON of Docker's AuthConfig; absent or empty means anonymous. */
export function registryAuth(header: string | undefined): imagesV1.RegistryAuth {
  const empty = { username: '', password: '', serverAddress: '', identityToken: '', registryToken: '' };
  if (!header) return empty;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return empty;
  }
  const s = (k: string) => (typeof doc?.[k] === 'string' ? (doc[k] as string) : '');
  return { username: s('username'), password: s('password'), serverAddress: s('serveraddress'), identityToken: s('identitytoken'), registryToken: s('registrytoken') };
}

/**
 * Relays a progress stream: an error before the first message is an HTTP error (as Docker
 * answers when the manifest is not found), one after is an `errorDetail` line in the stream.
 */
function relay(call: ClientReadableStream<imagesV1.ProgressMessage>, res: Response): void {
  let started = false;
  let done = false;
  const start = () => {
    if (!started) {
      started = true;
      res.status(200).setHeader('Content-Type', 'application/json');
    }
  };
  // A client that leaves does not stop the work in `images`: it only stops listening.
  res.on('close', () => {
    if (!done) call.cancel();
  });
  call.on('data', (m: imagesV1.ProgressMessage) => {
    start();
    res.write(`${m.json}\r\n`);
  });
  // grpc-js may emit 'end' after 'error'; only the first ending counts.
  call.on('end', () => {
    if (done) return;
    done = true;
    start();
    res.end();
  });
  call.on('error', (err: ServiceError) => {
    if (done) return;
    done = true;
    const e = fromServiceError(err, 'images');
    if (!started) {
      res.status(HTTP_STATUS[kindOf(e)]).json({ message: messageOf(e) });
      return;
    }
    res.end(`${JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) })}\r\n`);
  });
}

/** POST /images/create?fromImage=: a pull. */
export function pullRoute(b: Backends, req: Request, res: Response): void {
  const from = String(req.query.fromImage ?? '');
  if (!from) throw invalidArgument('fromImage or fromSrc is required');
  const tag = String(req.query.tag ?? '');
  const reference = !tag || from.includes('@') ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
  const platform = String(req.query.platform ?? '');
  // The CLI always sends a tag, except for `docker pull --all-tags`.
  const allTags = req.query.tag === undefined && !/[:@][^/]*$/.test(from);
  const c = b.peers.images;
  relay(c.pullImage({ reference, platform, allTags, auth: registryAuth(req.header('x-registry-auth')) }), res);
}

export function registryRoutes(b: Backends): Router {
  const r = Router();
  r.post(/^\/images\/(.+?)\/push$/, (req, res) => {
    const name = decodeURIComponent(String((req.params as Record<string, string>)[0] ?? ''));
    const tag = String(req.query.tag ?? '');
    const c = b.peers.images;
    relay(c.pushImage({ reference: tag ? `${name}:${tag}` : name, auth: registryAuth(req.header('x-registry-auth')) }), res);
  });
  r.post('/auth', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '{}') as Record<string, unknown>;
    } catch {
      throw invalidArgument('invalid JSON in the request body');
    }
    if (!body || typeof body !== 'object') body = {};
    const s = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
    const c = b.peers.images;
    try {
      const out = await unary('images', c.checkAuth.bind(c), {
        username: s('username'),
        password: s('password'),
        serverAddress: s('serveraddress'),
        identityToken: s('identitytoken'),
        registryToken: s('registrytoken'),
      });
      res.json({ Status: out.status, IdentityToken: out.identityToken });
    } catch (err) {
      // Docker answers a refused login with 401, which the taxonomy has no kind for.
      if (kindOf(err) === 'permission_denied') {
        res.status(401).json({ message: messageOf(err) });
        return;
      }
      throw err;
    }
  });
  return r;
}
