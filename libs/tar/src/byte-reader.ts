import { invalidArgument } from '@berth/errors';
import type { TarSource } from './types';

function iteratorOf(source: TarSource): AsyncIterator<Uint8Array> {
  if (source instanceof Uint8Array) source = [source];
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const sync = source[Symbol.iterator]();
  return {
    next: async () => sync.next(),
    return: async () => sync.return?.() ?? { done: true, value: undefined },
  };
}

/**
 * Pull-driven reads of exact byte counts from an async iterable of chunks. It asks the source
 * for a chunk only when its buffer runs short, so a slow consumer slows the source down
 * (a Node Readable iterated this way pauses itself).
 */
export class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  /** Bytes handed out or skipped so far: the archive offset of the next byte. */
  position = 0;

  constructor(source: TarSource) {
    this.#source = iteratorOf(source);
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk: unknown = next.value;
    if (!(chunk instanceof Uint8Array)) throw invalidArgument('tar: source must yield bytes (Buffer or Uint8Array), not strings');
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.length;
    }
    return true;
  }

  /** Exactly `n` bytes; null when the source is already at its end; throws when it ends midway. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    while (this.#buffered < n) {
      if (!(await this.#pull())) {
        if (this.#buffered === 0) return null;
        throw invalidArgument(`tar: the archive is truncated: it ends inside ${what}`);
      }
    }
    return this.#take(n);
  }

  /** Between 1 and `max` bytes without copying across chunks; throws at the end of the source. */
  async readSome(max: number, what: string): Promise<Buffer> {
    while (this.#buffered === 0) {
      if (!(await this.#pull())) throw invalidArgument(`tar: the archive is truncated: it ends inside ${what}`);
    }
    const head = this.#chunks[0]!;
    return this.#take(Math.min(max, head.length));
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.readSome(left, what)).length;
  }

  /** Lets the source release its resources (a file stream closes its descriptor). */
  async close(): Promise<void> {
    this.#chunks = [];
    this.#buffered = 0;
    if (!this.#ended) {
      this.#ended = true;
      await this.#source.return?.();
    }
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.position += n;
    this.#buffered -= n;
    const head = this.#chunks[0]!;
    if (head.length >= n) {
      if (head.length === n) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}
