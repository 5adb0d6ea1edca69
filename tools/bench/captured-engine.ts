import { request, createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';

/**
 * The most any engine can reach through the docker CLI for one `docker logs`: an engine's answers
 * to the CLI's three requests (`/_ping`, the container's inspect, the logs call) captured once
 * and served from memory on a unix socket, so the time the real CLI then takes is its own (plus
 * one in-memory write). Bench only (issue 13).
 */
export interface Captured {
  inspect: Buffer;
  logs: Buffer;
  logsType: string;
  apiVersion: string;
}

/** The CLI's user agent: engines may answer it differently (Berth merges frames for it). */
export const CLI_AGENT = 'Docker-Client/20.10.24 (linux)';

function get(socketPath: string, path: string): Promise<{ body: Buffer; type: string; api: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers: { 'User-Agent': CLI_AGENT } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${Buffer.concat(parts).toString()}`));
        resolve({ body: Buffer.concat(parts), type: String(res.headers['content-type'] ?? ''), api: String(res.headers['api-version'] ?? '1.41') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The engine's answers for `docker logs <name>` (API 1.41, the CLI's own query). */
export async function capture(socketPath: string, name: string): Promise<Captured> {
  const ping = await get(socketPath, '/_ping');
  const inspect = await get(socketPath, `/v1.41/containers/${name}/json`);
  const logs = await get(socketPath, `/v1.41/containers/${name}/logs?stderr=1&stdout=1&tail=all`);
  return { inspect: inspect.body, logs: logs.body, logsType: logs.type, apiVersion: ping.api };
}

/** Serves `c` on `socketPath` until the returned close is called. */
export async function serveCaptured(socketPath: string, c: Captured): Promise<() => Promise<void>> {
  rmSync(socketPath, { force: true });
  const server: Server = createServer((req, res) => {
    res.setHeader('Api-Version', c.apiVersion);
    res.setHeader('Ostype', 'linux');
    res.setHeader('Docker-Experimental', 'false');
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/_ping') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      return void res.end(req.method === 'HEAD' ? undefined : 'OK');
    }
    if (/\/containers\/[^/]+\/json$/.test(path)) {
      res.setHeader('Content-Type', 'application/json');
      return void res.end(c.inspect);
    }
    if (/\/containers\/[^/]+\/logs$/.test(path)) {
      res.setHeader('Content-Type', c.logsType);
      return void res.end(c.logs);
    }
    res.statusCode = 404;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ message: `page not found: ${path}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      rmSync(socketPath, { force: true });
    });
}
