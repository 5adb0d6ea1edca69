import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError, HTTP_STATUS, kindOf, messageOf } from '@berth/errors';
import { log, span } from '@berth/logging';
import { checkApiVersion, MAX_API_VERSION } from '../domain/api-version';
import type { Backends } from '../domain/backends';
import { runAttach } from './attach-stream';
import { runExec } from './exec-stream';
import { newRequestId } from './request-context';
import { validateBody } from './validation';

const bool = (v: string | null) => v === '1' || v === 'true' || v === 'True';

function reply(socket: Duplex, err: unknown): void {
  if (socket.destroyed || !socket.writable) return;
  const own = (err as { status?: unknown }).status;
  const status = typeof own === 'number' ? own : err instanceof BerthError ? HTTP_STATUS[kindOf(err)] : 500;
  const body = JSON.stringify({ message: messageOf(err) });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nApi-Version: ${MAX_API_VERSION}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Hijacked streams (`POST /containers/{id}/attach` with `Upgrade: tcp`): answer 101, then the
 * raw socket carries stdin one way and stdout/stderr the other — multiplexed frames unless the
 * container has a TTY. The CLI half-closes its side when stdin ends; that closes the
 * container's stdin and nothing else.
 */
export function upgradeHandler(b: Backends) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A client that hangs up early must not take the gateway down with an unhandled EPIPE.
    socket.on('error', (err) => log().debug({ err: messageOf(err) }, 'hijacked connection failed'));
    // Upgrade requests bypass express, so this is their error path: whatever the input, an
    // HTTP answer on the socket, never an exception out of the 'upgrade' event.
    const requestId = newRequestId();
    const fail = (err: unknown) => {
      if (!(err instanceof BerthError)) log().error({ err, requestId, method: req.method, url: req.url }, 'hijacked request failed');
      reply(socket, err);
    };
    try {
      route(b, req, socket, head, fail);
    } catch (err) {
      fail(err);
    }
  };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BerthError('invalid_argument', `invalid URL escape in ${JSON.stringify(s)}`);
  }
}

function route(b: Backends, req: IncomingMessage, socket: Duplex, head: Buffer, fail: (err: unknown) => void): void {
  let url: URL;
  try {
    // A target of `//` or `//host/...` would parse as an authority; only the path matters here.
    url = new URL(`http://berth${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? '/'}`);
  } catch {
    throw new BerthError('invalid_argument', 'invalid request target');
  }
  let path = url.pathname;
  let apiVersion = MAX_API_VERSION;
  const m = /^\/v([0-9.][^/]*)(\/.*)$/.exec(path);
  if (m) {
    apiVersion = checkApiVersion(m[1]!);
    path = m[2]!;
  }
  const exec = /^\/exec\/([^/]+)\/start$/.exec(path);
  if (req.method === 'POST' && exec) {
    const id = decodeSegment(exec[1]!);
    void execStream(b, id, req, socket, head).catch(fail);
    return;
  }
  const attach = /^\/containers\/([^/]+)\/attach$/.exec(path);
  if (req.method !== 'POST' || !attach) throw new BerthError('not_found', 'page not found');
  const id = decodeSegment(attach[1]!);
  const headed = span('attach: to 101 head', id);
  const writeHead = (ct: string) => (headed(), socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${ct}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`));
  // A body (dockerode sends its options as JSON) is not stdin: dockerd drops it unread.
  void readBody(req, socket, head, false)
    .then(({ rest }) => runAttach(b, id, url.searchParams, apiVersion, { socket, head: rest, acceptStdin: true, writeHead }))
    .catch(fail);
}


/** Reads the JSON body that precedes the raw stream on an upgraded exec start. */
const MAX_START_BODY = 1 << 20;

async function readBody(req: IncomingMessage, socket: Duplex, head: Buffer, parse = true): Promise<{ body: unknown; rest: Buffer }> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(len) || len < 0) throw new BerthError('invalid_argument', 'invalid Content-Length');
  if (len > MAX_START_BODY) throw Object.assign(new BerthError('invalid_argument', 'request body too large'), { status: 413 });
  let buf = head;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const done = (c: Buffer | null) => {
        socket.off('data', done);
        socket.off('end', gone);
        socket.off('close', gone);
        resolve(c);
      };
      const gone = () => done(null);
      socket.on('data', done);
      socket.once('end', gone);
      socket.once('close', gone);
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  if (!parse) return { body: {}, rest: buf.subarray(len) };
  const text = buf.subarray(0, len).toString('utf8');
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch (err) {
    throw new BerthError('invalid_argument', `invalid JSON: ${messageOf(err)}`);
  }
  return { body, rest: buf.subarray(len) };
}

async function execStream(b: Backends, id: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const read = await readBody(req, socket, head);
  const body = validateBody('POST /exec/{id}/start', read.body) as { Detach?: boolean; Tty?: boolean };
  const rest = read.rest;
  socket.pause();
  await runExec(b, id, {
    out: socket,
    input: socket,
    detach: body.Detach === true,
    tty: body.Tty === true,
    onStarted: (ct) => {
      socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${ct}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      if (rest.length) socket.unshift(rest);
      socket.resume();
    },
    onError: (err) => reply(socket, err),
  });
}
