import type { Socket } from 'node:net';
import { connectSeqpacket, drainSeqpacket } from '@berth/sys';

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
 * socket with a blocking write, so what arrives is always read: it goes to `output` (the
 * attach output of a container with no log), else it is dropped (attach output comes from the
 * log). One connection carries both: a second one, closed, would close the container's stdin,
 * and output still comes after our side is shut for writing.
 */
export class ConmonStdin {
  private sock: Socket | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private closing = false;
  private connected = false;
  private waiters: (() => void)[] = [];
  private closed: Promise<void> = Promise.resolve();

  constructor(
    private readonly bundle: string,
    private readonly output?: (packet: Buffer) => void,
  ) {}

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
    const output = this.output;
    sock.on('data', output ? (p: Buffer) => output(p) : () => undefined);
    // conmon sends the run's last output and closes: what libuv left unread at the hangup.
    if (output) sock.on('end', () => {
      for (const p of drainSeqpacket(sock)) output(p);
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      sock.on('close', () => {
        if (this.sock === sock) this.drop();
        resolve();
      }),
    );
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

  /**
   * Once conmon has closed the connection (it does as it ends, after the run's last output), or
   * after `ms`: what it sent before is read by then.
   */
  async drained(ms: number): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
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
