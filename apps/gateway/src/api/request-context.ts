import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { log, span, tracing, withLogger } from '@berth/logging';

declare module 'express-serve-static-core' {
  interface Request {
    /** Names this request in every log line it causes, so a 500 can be traced to its input. */
    requestId: string;
  }
}

export const newRequestId = (): string => randomBytes(6).toString('hex');

/**
 * Gives each request an id and a logger carrying it. A client that hangs up mid-upload makes
 * the request stream emit 'error'; with no listener that would be an uncaught exception, so
 * every request gets one here whatever its route does with the body.
 */
export const requestContext: RequestHandler = (req, _res, next) => {
  req.requestId = newRequestId();
  const logger = log().child({ requestId: req.requestId });
  req.on('error', (err) => logger.debug({ err: err.message }, 'request stream failed'));
  if (tracing()) {
    const end = span(`http ${req.method} ${routeShape(req.path)}`);
    _res.once('close', end);
  }
  withLogger(logger, next);
};

/** `/v1.41/containers/<id>/wait` -> `/containers/:id/wait`, so the trace groups requests by route. */
export function routeShape(path: string): string {
  return path.replace(/^\/v[0-9.]+/, '').replace(/^\/(containers|exec|images|networks|volumes)\/([^/]+)(?=\/|$)/, (_m, kind: string, ref: string) => (ref === 'json' || ref === 'create' || ref === 'prune' ? `/${kind}/${ref}` : `/${kind}/:id`));
}
