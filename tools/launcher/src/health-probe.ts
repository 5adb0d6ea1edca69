import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { socketPath } from '@berth/config';

/** grpc.health.v1 HealthCheckResponse.ServingStatus.SERVING */
const SERVING = 1;
/** An empty HealthCheckRequest (service "": the whole server) in gRPC's length-prefixed framing. */
const CHECK_ALL = Buffer.alloc(5);

/**
 * grpc.health.v1 Check of a whole server over node:http2, without grpc-js: the launcher needs
 * only this one call, and loading grpc-js and every generated contract for it was most of the
 * launcher's own heap (tools/bench/memory-bench.ts). The answer is a one-field message, read by
 * hand: field 1 (status) as a varint, `08 <status>`. Anything but SERVING, an error or the
 * deadline is `false`.
 */
export function probeHealthy(address: string, deadlineMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let path: string;
    try {
      path = socketPath(address);
    } catch {
      resolve(false);
      return;
    }
    const session = http2Connect('http://localhost', { createConnection: () => netConnect(path) });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), deadlineMs);
    session.on('error', () => done(false));
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', () => done(false));
    const finish = (grpcStatus: unknown) => {
      const body = Buffer.concat(chunks);
      const msg = body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0));
      done(String(grpcStatus) === '0' && msg.length >= 2 && msg[0] === 0x08 && msg[1] === SERVING);
    };
    // A trailers-only answer (an error) carries grpc-status in the headers.
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) finish(h['grpc-status']);
    });
    req.on('trailers', (t) => finish(t['grpc-status']));
    req.on('end', () => done(false));
    req.end(CHECK_ALL);
  });
}
