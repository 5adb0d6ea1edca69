import type { Request } from 'express';

/**
 * An upload (load, import, cp) that failed before its body was all read: stop forwarding it and
 * discard the rest. Closing instead would be quicker, but Go's client (the docker CLI) then
 * reports the broken pipe of its unfinished write instead of the answer.
 */
export function abandonUpload(req: Request): void {
  req.removeAllListeners('data');
  req.on('data', () => undefined);
  req.resume();
}
