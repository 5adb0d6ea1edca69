import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Docker's range for ports picked when -p gives none (the kernel's default ephemeral range). */
export const EPHEMERAL_PORTS = { first: 32768, last: 60999 };

/**
 * True when nothing on the host holds the port. Published ports are served by kernel NAT, not by
 * a socket, so a host process listening there would silently lose its traffic: check first.
 */
export function hostPortFree(hostIp: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  const host = hostIp || '0.0.0.0';
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
