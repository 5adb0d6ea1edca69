import type { StreamName } from '@berth/json-log';
import type { Subscriber } from '@berth/shim-core';

/**
 * conmon's pipe numbers, the first byte of each packet it sends to an attach socket; the rest of
 * the packet is one read of that pipe (up to 8 KiB). A terminal's output comes as stdout.
 */
const PIPE_STDOUT = 2;
const PIPE_STDERR = 3;

/** One packet of conmon's attach socket as a stream and its bytes; anything else is not output. */
export function parseAttachPacket(p: Buffer): { stream: StreamName; bytes: Buffer } | undefined {
  if (p.length < 2) return undefined;
  if (p[0] === PIPE_STDOUT) return { stream: 'stdout', bytes: p.subarray(1) };
  if (p[0] === PIPE_STDERR) return { stream: 'stderr', bytes: p.subarray(1) };
  return undefined;
}

/**
 * Live output of a container with no log (`--log-driver none`), from conmon's attach socket to
 * the clients attached now. A client attached before the start gets the whole run (the socket is
 * connected between `runc create` and `runc start`); one attached between runs waits for the
 * next. Nothing waits for a slow client, as with the Node shim's pipes: conmon writes to the
 * socket with a blocking write, and a stalled client must not stall conmon's loop (and with it
 * the exit).
 */
export class AttachOutput {
  private readonly subs = new Set<Omit<Subscriber, 'ready'>>();

  add(sub: Omit<Subscriber, 'ready'>): () => void {
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  packet(p: Buffer): void {
    const out = parseAttachPacket(p);
    if (!out) return;
    for (const s of this.subs) if (s.streams.has(out.stream)) s.data(out.stream, out.bytes);
  }

  /** The run's output has all been delivered: its clients are done. */
  end(): void {
    const subs = [...this.subs];
    this.subs.clear();
    for (const s of subs) s.end();
  }
}
