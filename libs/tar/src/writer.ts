import type { Writable } from 'node:stream';
import { failedPrecondition, invalidArgument, unavailable } from '@berth/errors';
import { encodeHeader, normalizeHeader, paddingFor, TAR_BLOCK_BYTES } from './header';
import type { TarContent, TarHeader, TarHeaderInput, TarWriterOptions } from './types';

/** Where archive bytes go: chunks appended to an array, or a stream whose backpressure is honoured. */
export type TarSink = Buffer[] | Writable;

// Two zero blocks end an archive. Go writes just these; GNU tar pads further to a 10 KiB record,
// which readers ignore, and leaving it out keeps layer digests equal to what Docker produces.
const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_BYTES);

/**
 * Writes an archive entry by entry. The output depends only on the headers and content given:
 * no clock, no process ids, PAX records in sorted order.
 *
 * Lifecycle: `add()` any number of times, awaiting each call before the next; then `finish()`,
 * which writes the end-of-archive marker and (unless `endStream: false`) ends a stream sink.
 * Header problems throw InvalidArgument synchronously from `add()`; problems found while writing
 * (content shorter or longer than its declared size, a closed stream) reject its promise and
 * leave the writer failed, since the archive is then unusable. `finish()` is idempotent.
 *
 * Example:
 *   const tar = new TarWriter(createWriteStream(path));
 *   await tar.add({ name: 'etc', type: 'directory' });
 *   await tar.add({ name: 'etc/hostname', mode: 0o644 }, 'berth\n');
 *   await tar.add({ name: 'bin/sh', type: 'symlink', linkname: 'busybox' });
 *   await tar.finish();
 */
export class TarWriter {
  readonly #sink: TarSink;
  readonly #endStream: boolean;
  #busy = false;
  #failure: unknown;
  #finished: Promise<void> | undefined;
  #bytesWritten = 0;

  constructor(sink: TarSink, options: TarWriterOptions = {}) {
    this.#sink = sink;
    this.#endStream = options.endStream ?? true;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  add(input: TarHeaderInput, content?: TarContent): Promise<void> {
    this.#checkUsable('add');
    const body = bodyOf(input, content);
    const header = normalizeHeader({ ...input, size: body.size });
    const blocks = encodeHeader(header);
    this.#busy = true;
    return this.#guard(async () => {
      await this.#push(blocks);
      await this.#writeBody(header, body.chunks);
      await this.#push(Buffer.alloc(paddingFor(header.size)));
    }).finally(() => {
      this.#busy = false;
    });
  }

  finish(): Promise<void> {
    if (!this.#finished) {
      this.#checkUsable('finish');
      this.#finished = this.#guard(async () => {
        await this.#push(END_OF_ARCHIVE);
        if (!Array.isArray(this.#sink) && this.#endStream) await ended(this.#sink);
      });
    }
    return this.#finished;
  }

  #checkUsable(what: string): void {
    if (this.#failure !== undefined) throw failedPrecondition(`tar: ${what}() after a failed write`, { cause: this.#failure });
    if (this.#finished) throw failedPrecondition(`tar: ${what}() after finish()`);
    if (this.#busy) throw failedPrecondition(`tar: ${what}() while a previous add() is still writing`);
  }

  async #guard(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.#failure = err;
      throw err;
    }
  }

  async #writeBody(header: TarHeader, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
    let written = 0;
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw invalidArgument(`tar: content of ${header.name} must be bytes`);
      written += chunk.length;
      if (written > header.size) break;
      // An array sink keeps chunks long after add() returns, so it gets its own copy.
      await this.#push(Array.isArray(this.#sink) ? Buffer.from(chunk) : chunk);
    }
    if (written !== header.size) {
      throw invalidArgument(`tar: content of ${header.name} is ${written > header.size ? 'longer' : 'shorter'} than its size ${header.size}`);
    }
  }

  async #push(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.#bytesWritten += chunk.length;
    if (Array.isArray(this.#sink)) {
      this.#sink.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      return;
    }
    const stream = this.#sink;
    if (stream.destroyed || stream.writableEnded) throw unavailable('tar: the output stream is closed');
    if (!stream.write(chunk)) await drained(stream);
  }
}

interface Body {
  size: number;
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Works out the content size up front, since it goes in the header before the content. */
function bodyOf(input: TarHeaderInput, content: TarContent | undefined): Body {
  const type = input.type ?? 'file';
  if (content === undefined) {
    if (type === 'file' && (input.size ?? 0) > 0) throw invalidArgument(`tar: entry ${JSON.stringify(input.name)} has a size but no content`);
    return { size: input.size ?? 0, chunks: [] };
  }
  if (type !== 'file') throw invalidArgument(`tar: entry ${JSON.stringify(input.name)} is a ${type}; only files have content`);
  if (typeof content === 'string' || content instanceof Uint8Array) {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    if (input.size !== undefined && input.size !== bytes.length) {
      throw invalidArgument(`tar: entry ${JSON.stringify(input.name)} says size ${input.size} but has ${bytes.length} bytes`);
    }
    return { size: bytes.length, chunks: [bytes] };
  }
  if (input.size === undefined) throw invalidArgument(`tar: entry ${JSON.stringify(input.name)} streams its content, so it needs a size`);
  return { size: input.size, chunks: content };
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = () => settle();
    const onError = (err: unknown) => settle(err);
    const onClose = () => settle(unavailable('tar: the output stream closed while the writer waited for it to drain'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

function ended(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      stream.off('finish', onFinish);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onFinish = () => settle();
    const onError = (err: unknown) => settle(err);
    // A file stream reports 'finish' before 'close'; a close first means the data did not all land.
    const onClose = () => settle(stream.writableFinished ? undefined : unavailable('tar: the output stream closed before it finished'));
    stream.on('finish', onFinish);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.end();
  });
}

/** Writes a whole archive into memory; handy for layers small enough to hash in one piece. */
export async function packTar(entries: Iterable<{ header: TarHeaderInput; content?: TarContent }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const tar = new TarWriter(chunks);
  for (const { header, content } of entries) await tar.add(header, content);
  await tar.finish();
  return Buffer.concat(chunks);
}
