import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalidArgument } from '@berth/errors';
import { COMPRESSION_MAGIC_BYTES, type Compression, detectCompression } from './detect';

export interface DecompressOptions {
  /**
   * Bytes the output may reach; one byte more fails the stream with an InvalidArgument error
   * (see expandedLimitBytes). Unbounded when not given.
   */
  maxOutputBytes?: number;
  /** Told which compression the magic bytes showed, before the first output chunk. */
  onDetect?(compression: Compression): void;
}

/** The OS decompressors for what Node's zlib cannot read; each reads stdin and writes stdout. */
const TOOLS: Record<'bzip2' | 'xz' | 'zstd', string[]> = {
  bzip2: ['bzip2', '-dc'],
  xz: ['xz', '-dc'],
  zstd: ['zstd', '-dcq'],
};

/** Message prefix of every failure this module raises, so callers can tell them apart. */
export const EXPANSION_LIMIT_MESSAGE = 'the archive expands to more than';

/**
 * An upload as it was before compression: gzip, bzip2, xz and zstd are recognised by their
 * magic bytes (gzip through zlib, the others through the OS's `bzip2`/`xz`/`zstd -dc`), anything
 * else passes through unchanged. Pull-driven end to end: the source is read only as fast as the
 * output is consumed, and a consumer that stops (break, throw) kills the decompressor.
 *
 * Failures are InvalidArgument errors whose message starts with the format (`gzip: ...`); an
 * input cut short says `unexpected EOF`, as Go's readers do.
 *
 * Example:
 *   for await (const entry of readTar(decompress(req, { maxOutputBytes: 1 << 30 }))) ...
 */
export async function* decompress(source: AsyncIterable<Uint8Array>, options: DecompressOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < COMPRESSION_MAGIC_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    headBytes += r.value.byteLength;
  }
  const compression = detectCompression(Buffer.concat(head, headBytes));
  options.onDetect?.(compression);
  const input = (async function* (): AsyncGenerator<Buffer> {
    yield* head;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
  })();
  const output = compression === 'none' ? input : compression === 'gzip' ? gunzipped(input) : throughTool(compression, input);
  const max = options.maxOutputBytes ?? Infinity;
  let total = 0;
  try {
    for await (const chunk of output) {
      total += chunk.length;
      if (total > max) throw invalidArgument(`${EXPANSION_LIMIT_MESSAGE} ${max} bytes (the daemon's "max-upload-expanded-bytes")`);
      if (chunk.length) yield chunk;
    }
  } finally {
    await output.return(undefined);
    // Not awaited: a read may still be pending on the source, and ending it must not wait for one.
    void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** Feeds `input` to a writable, waiting for drain, until the input ends or `stopped()` holds. */
async function feed(input: AsyncIterable<Buffer>, sink: Writable, stopped: () => boolean): Promise<void> {
  for await (const chunk of input) {
    if (stopped()) return;
    if (sink.destroyed || sink.writableEnded) return;
    if (!sink.write(chunk)) {
      // The sink may have closed already (a decompressor that quit on bad input): then no
      // 'drain' or 'close' is coming, and waiting would hang the upload.
      if (sink.destroyed || sink.closed) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          sink.off('drain', done);
          sink.off('close', done);
          resolve();
        };
        sink.on('drain', done);
        sink.on('close', done);
      });
      if (sink.destroyed) return;
    }
  }
  if (!stopped() && !sink.destroyed && !sink.writableEnded) sink.end();
}

const truncated = (text: string) => /unexpected end|ends unexpectedly|premature end|truncated/i.test(text);

async function* gunzipped(input: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  let stopped = false;
  let feedError: unknown;
  const feeding = feed(input, gunzip, () => stopped).catch((err: unknown) => {
    feedError = err;
    gunzip.destroy();
  });
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (feedError !== undefined) throw feedError;
    const text = (err as Error).message;
    throw invalidArgument(`gzip: ${truncated(text) ? 'unexpected EOF' : text}`);
  } finally {
    stopped = true;
    gunzip.destroy();
  }
  await feeding;
  if (feedError !== undefined) throw feedError;
}

async function* throughTool(compression: 'bzip2' | 'xz' | 'zstd', input: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  const [cmd, ...args] = TOOLS[compression];
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; spawnError?: Error }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, spawnError }));
    child.once('close', (code) => resolve({ code }));
  });
  // The decompressor may stop reading (a corrupt stream) while input is still coming.
  child.stdin.on('error', () => undefined);
  let stopped = false;
  let feedError: unknown;
  const feeding = feed(input, child.stdin, () => stopped).catch((err: unknown) => {
    feedError = err;
    child.kill('SIGKILL');
  });
  try {
    for await (const chunk of child.stdout as Readable as AsyncIterable<Buffer>) yield chunk;
    const { code, spawnError } = await exited;
    if (feedError !== undefined) throw feedError;
    if (spawnError) throw invalidArgument(`${compression}: cannot run ${cmd}: ${spawnError.message}`);
    if (code !== 0) {
      const line = stderr.trim().split('\n')[0] ?? '';
      throw invalidArgument(`${compression}: ${truncated(stderr) ? 'unexpected EOF' : line.replace(/^\S+:\s*(\(stdin\)\s*:\s*|\/\*stdin\*\\\s*:\s*)?/, '') || `${cmd} exited with ${code}`}`);
    }
  } finally {
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdin.destroy();
  }
  await feeding;
}
