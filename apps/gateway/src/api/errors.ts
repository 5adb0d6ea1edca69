import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { HTTP_STATUS, kindOf, messageOf } from '@berth/errors';
import { log } from '@berth/logging';

/** Unknown paths get dockerd's answer, so clients fall through object types on 404. */
export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json({ message: 'page not found' });
};

/**
 * Errors raised by express itself and its body parsers (not our taxonomy): a bad escape in a
 * path parameter, a body over its limit, unreadable JSON. They carry their own 4xx status.
 */
function frameworkStatus(err: unknown): { status: number; message: string } | undefined {
  if (err instanceof URIError) return { status: 400, message: `invalid URL escape: ${err.message}` };
  const e = err as { status?: unknown; type?: unknown; message?: unknown };
  if (e?.type === 'entity.parse.failed') return { status: 400, message: messageOf(err) };
  if (e?.type === 'entity.too.large') return { status: 413, message: 'request body too large' };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && !(err instanceof Error && 'kind' in err)) {
    return { status: e.status, message: messageOf(err) };
  }
  return undefined;
}

/** What is drained of an oversize body so the client reads its 413; past it, the connection closes. */
const DRAIN_LIMIT = 64 << 20;

/**
 * The parser stops reading an oversize body where it passes the limit. The rest is read and
 * dropped (a client still writing would otherwise see a reset instead of the answer), up to
 * DRAIN_LIMIT; a bigger or endless body gets the answer and a closed connection.
 */
function drainOrClose(req: Request, res: Response): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.complete) return;
  if (declared > DRAIN_LIMIT) {
    res.setHeader('Connection', 'close');
    return;
  }
  let seen = 0;
  req.on('data', (d: Buffer) => {
    seen += d.length;
    if (seen > DRAIN_LIMIT) req.socket.destroy();
  });
  req.resume();
}

/** The only place errors become HTTP: status from the taxonomy, Docker's `{"message"}` body. */
export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  const framework = frameworkStatus(err);
  const status = framework?.status ?? HTTP_STATUS[kindOf(err)];
  if (status >= 500) log().error({ err, requestId: req.requestId, method: req.method, path: req.path }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status === 413) drainOrClose(req, res);
  res.status(status).json({ message: framework?.message ?? messageOf(err) });
};
