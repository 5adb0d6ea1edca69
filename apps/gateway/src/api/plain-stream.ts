import type { Request } from 'express';
import type { Duplex } from 'node:stream';
import { MAX_API_VERSION } from '../domain/api-version';

/**
 * Attach and exec start without `Upgrade: tcp`: dockerd still takes the connection over and
 * writes a bare `200 OK` head with the stream as the body, neither chunked nor sized, and
 * closes when the stream ends. docker-py reads that body straight off the socket, so chunk
 * framing would corrupt it: this writes the head itself and hands back the socket.
 */
export function plainStream(req: Request): { socket: Duplex; writeHead(contentType: string): void } {
  const socket = req.socket;
  return {
    socket,
    writeHead: (contentType) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nApi-Version: ${MAX_API_VERSION}\r\nConnection: close\r\n\r\n`);
    },
  };
}
