import type { RequestHandler } from 'express';
import { checkApiVersion, MAX_API_VERSION } from '../domain/api-version';

declare module 'express-serve-static-core' {
  interface Request {
    /** The API version the client asked for in the path, or the newest when it gave none. */
    apiVersion: string;
  }
}

/**
 * Strips the `/vX.Y` prefix (checked against the supported range) so routes are written once,
 * and stamps every answer with the headers dockerd sends.
 */
export function versionMiddleware(serverVersion: string): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `Berth/${serverVersion} (linux)`);
    // Only a digit after /v starts a version (dockerd's /v{version:[0-9.]+}); /volumes is a route.
    const m = /^\/v([0-9.][^/]*)(\/.*)$/.exec(req.url);
    req.apiVersion = MAX_API_VERSION;
    if (m) {
      try {
        req.apiVersion = checkApiVersion(m[1]!);
      } catch (err) {
        next(err);
        return;
      }
      req.url = m[2]!;
    }
    next();
  };
}
