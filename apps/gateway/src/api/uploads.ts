import type { Request, Response } from 'express';

/**
 * An upload (load, import, cp) that failed before its body was all read: stop forwarding it,
 * discard the rest instead of leaving the client blocked on a full socket, and close the
 * connection after the answer, as Go's server does with a body it will not read.
 */
export function abandonUpload(req: Request, res: Response): void {
  req.removeAllListeners('data');
  req.on('data', () => undefined);
  req.resume();
  if (!res.headersSent) res.setHeader('Connection', 'close');
}
