import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReference } from '@berth/reference';
import { RegistryClient } from './registry-client';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

const client = (port: number) =>
  new RegistryClient(parseReference(`127.0.0.1:${port}/x:y`), {}, { insecureRegistries: [], hosts: {}, timeoutMs: 200, attempts: 2, backoffMs: 10 });

describe('a registry that hangs', () => {
  it('times out waiting for the answer', async () => {
    const port = await serve(() => undefined);
    await expect(client(port).manifest('y', 'x:y')).rejects.toThrow(`Get "http://127.0.0.1:${port}/v2/x/manifests/y": timeout after 200 ms`);
  });

  it('times out when a body stops halfway', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '100' });
      res.write('{"schemaVersion":');
    });
    await expect(client(port).manifest('y', 'x:y')).rejects.toThrow('reading manifest for x:y: no data for 200 ms');
  });

  it('refuses an oversized manifest from its Content-Length', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(64 << 20) });
      res.write('{');
    });
    await expect(client(port).manifest('y', 'x:y')).rejects.toThrow(/manifest for x:y is too large/);
  });
});
