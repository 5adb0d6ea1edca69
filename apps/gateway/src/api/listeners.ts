import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { dirname } from 'node:path';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ApiTls, parseHost } from '@berth/config';

/** Listens on every `-H` address; a unix socket left by a killed gateway is replaced. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ListenOptions {
  tls: ApiTls;
  socketGroup: string;
  /** dockerd's warning for a TCP listener without TLS verification. */
  warn: (message: string, host: string) => void;
}

/** The gid of a group in /etc/group, if it exists. */
function groupId(name: string): number | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    const gid = line ? Number(line.split(':')[2]) : NaN;
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}

function serverFor(kind: 'unix' | 'tcp', tls: ApiTls, handler: RequestListener): Server {
  if (kind === 'unix' || !tls.enabled) return createServer(handler);
  return createTlsServer(
    {
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      ...(tls.verify ? { ca: readFileSync(tls.caCert), requestCert: true, rejectUnauthorized: true } : {}),
      minVersion: 'TLSv1.2',
    },
    handler,
  ) as unknown as Server;
}

export async function listenAll(hosts: string[], handler: RequestListener, onUpgrade: UpgradeListener, opts: ListenOptions): Promise<Server[]> {
  const servers: Server[] = [];
  for (const h of hosts) {
    const addr = parseHost(h);
    if (addr.kind === 'tcp' && !opts.tls.verify) {
      opts.warn('Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.', h);
      opts.warn("[!] DON'T BIND ON ANY IP ADDRESS WITHOUT setting --tlsverify IF YOU DON'T KNOW WHAT YOU'RE DOING [!]", h);
    }
    const server = serverFor(addr.kind, opts.tls, handler);
    // A client that is done sending half-closes a hijacked stream (TLS: a close_notify) and still
    // reads the output: the socket must not end its own side then.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.allowHalfOpen = true;
      onUpgrade(req, socket, head);
    });
    // Event streams and `wait` hold requests open for as long as containers run.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    // dockerd never closes an idle connection; clients (Node 20's global agent, docker-modem) reuse
    // theirs, and a server that closes one while a request is on its way makes it fail with EPIPE.
    server.keepAliveTimeout = 0;
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
          const gid = groupId(opts.socketGroup);
          if (gid !== undefined) chownSync(addr.path!, process.getuid?.() ?? 0, gid);
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
