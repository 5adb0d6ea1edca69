import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseHost } from '@berth/config';

/** Listens on every `-H` address; a unix socket left by a killed gateway is replaced. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export async function listenAll(hosts: string[], handler: RequestListener, onUpgrade: UpgradeListener): Promise<Server[]> {
  const servers: Server[] = [];
  for (const h of hosts) {
    const addr = parseHost(h);
    const server = createServer(handler);
    server.on('upgrade', onUpgrade);
    // Event streams and `wait` hold requests open for as long as containers run.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (addr.kind === 'unix') {
        mkdirSync(dirname(addr.path!), { recursive: true });
        try {
          if (statSync(addr.path!).isSocket()) rmSync(addr.path!);
        } catch {
          // absent
        }
        server.listen(addr.path, () => {
          chmodSync(addr.path!, 0o660);
          resolve();
        });
      } else {
        server.listen(addr.port, addr.host, () => resolve());
      }
    });
    servers.push(server);
  }
  return servers;
}

export async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}
