import type { Socket } from 'node:net';
import { connectSeqpacket } from '@berth/sys';

/** conmon reads at most 32 KiB - 1 of a packet and drops the rest: stdin goes in smaller packets. */
const PACKET = 8192;
/** Past this much queued stdin the sender is asked to wait (`full`); it goes on below half of it. */
const HIGH_WATER = 1 << 20;
/** A sender that does not wait loses what goes past this, rather than growing the monitor. */
const MAX_QUEUED = 8 << 20;

/**
 * The container's stdin through conmon's attach socket (`<bundle>/attach`, SOCK_SEQPACKET).
 * Writing to it is writing to the container's stdin; ending it (shutdown of our side) is what
 * conmon takes as the client gone, and without `--leave-stdin-open` it then closes the
 * container's stdin: that is StdinOnce. conmon also copies all output to every attached
 * socket with a blocking write, so what arrives here is read and dropped (attach output comes
 * from the log).
 */
export class ConmonStdin {
  private sock: Socket | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private closing = false;
  private connected = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly bundle: string) {}

  /** Connects to the running conmon and sends what waited; a failure leaves stdin unconnected. */
  connect(): void {
    if (this.sock) return;
    try {
      this.sock = connectSeqpacket('attach', this.bundle);
    } catch {
      return;
    }
    this.connected = true;
    const sock = this.sock;
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.sock === sock) this.drop();
    });
    this.pump();
  }

  write(b: Buffer): void {
    if (this.closing || !b.length) return;
    if (this.queued + b.length > MAX_QUEUED) return;
    for (let i = 0; i < b.length; i += PACKET) this.queue.push(b.subarray(i, i + PACKET));
    this.queued += b.length;
    this.pump();
  }

  /** While this much waits (before the run starts, or a container that does not read), a promise of room. */
  full(): Promise<void> | undefined {
    if (this.queued <= HIGH_WATER) return undefined;
    return new Promise((r) => this.waiters.push(r));
  }

  private wake(): void {
    if (this.queued > HIGH_WATER / 2) return;
    for (const w of this.waiters.splice(0)) w();
  }

  /** End of input: after what is queued, our side of the socket is shut for writing. */
  close(): void {
    this.closing = true;
    this.pump();
  }

  /** Forgets the connection (conmon or the container is gone); a later run connects again. */
  drop(): void {
    const sock = this.sock;
    this.sock = undefined;
    this.connected = false;
    this.queue = [];
    this.queued = 0;
    this.writing = false;
    this.closing = false;
    sock?.destroy();
    this.wake();
  }

  private pump(): void {
    const sock = this.sock;
    if (!sock || this.writing) return;
    const next = this.queue.shift();
    if (!next) {
      if (this.closing) sock.end();
      return;
    }
    this.queued -= next.length;
    this.wake();
    this.writing = true;
    // One buffer per write, the next only after it went: queued writes would be joined into one packet.
    sock.write(next, () => {
      if (this.sock !== sock) return;
      this.writing = false;
      this.pump();
    });
  }
}
