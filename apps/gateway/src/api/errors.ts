import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HTTP_STATUS, kindOf, messageOf } from '@berth/errors';
import { log } from '@berth/logging';

/** Unknown paths get dockerd's answer, so clients fall through object types on 404. */
export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json({ message: 'page not found' });
};

/** The only place errors become HTTP: status from the taxonomy, Docker's `{"message"}` body. */
export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  const status = (err as { type?: string }).type === 'entity.parse.failed' ? 400 : HTTP_STATUS[kindOf(err)];
  if (status >= 500) log().error({ err, method: req.method, path: req.path }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).json({ message: messageOf(err) });
};
