import type { StreamName } from '@berth/json-log';

export interface Subscriber {
  streams: Set<StreamName>;
  data(stream: StreamName, chunk: Buffer): void;
  /** The process exited and its output has been delivered. */
  end(): void;
  /**
   * Resolves once the client has taken what was sent (or has gone): a sender that reads output
   * from disk waits on it, so a slow client costs disk, not memory. Live pipes do not wait.
   */
  ready?(): Promise<void>;
}

/**
 * Live output to attached clients. Nothing is buffered for absent clients: output nobody is
 * attached to only goes to the log. A slow client is the transport's business (gRPC stream
 * buffers); the shim never blocks the container on it.
 */
export class Fanout {
  private readonly subs = new Set<Subscriber>();

  add(s: Subscriber): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  data(stream: StreamName, chunk: Buffer): void {
    for (const s of this.subs) if (s.streams.has(stream)) s.data(stream, chunk);
  }

  end(): void {
    for (const s of [...this.subs]) s.end();
    this.subs.clear();
  }
}
