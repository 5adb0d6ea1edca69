import { failedPrecondition, invalidArgument } from '@berth/errors';
import { ByteReader } from './byte-reader';
import { decodeHeaderBlock, entryTypeOf, isZeroBlock, paddingFor, TAR_BLOCK_BYTES, type RawHeader } from './header';
import { parsePaxRecords, paxValueToString } from './pax';
import { DEFAULT_MAX_METADATA_BYTES, type TarEntry, type TarHeader, type TarReaderOptions, type TarSource } from './types';

/**
 * Reads an archive as a sequence of entries, pulling from `source` only as fast as the caller
 * consumes (a Node Readable, a file stream, any iterable of chunks, or one buffer).
 *
 * Understands ustar, GNU tar's format (including 'L'/'K' long names) and PAX ('x' per entry,
 * 'g' global); those carrier records are folded into the next entry's header. Anything
 * malformed (bad checksum, negative or overflowing numbers, truncated data, oversized extended
 * headers) fails with an InvalidArgument error naming the archive offset or entry.
 *
 * The archive ends at two zero blocks or, as Go's reader allows, at a clean end of the source
 * between entries. Finishing, breaking out of the loop or failing all close the source.
 *
 * Example:
 *   for await (const entry of readTar(createReadStream(path))) {
 *     if (entry.header.type === 'file') await writeSomewhere(entry.header.name, entry.content);
 *   }
 */
export async function* readTar(source: TarSource, options: TarReaderOptions = {}): AsyncGenerator<TarEntry, void, undefined> {
  const maxMetadataBytes = options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES;
  const bytes = new ByteReader(source);
  const globals = new Map<string, Buffer>();
  let pending: Pending = {};
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const at = bytes.position;
      const block = await bytes.readExact(TAR_BLOCK_BYTES, 'a header');
      if (!block) {
        if (pending.pax || pending.longName !== undefined || pending.longLink !== undefined) {
          throw invalidArgument('tar: the archive is truncated: it ends after an extended header');
        }
        return;
      }
      if (isZeroBlock(block)) {
        const second = await bytes.readExact(TAR_BLOCK_BYTES, 'the end-of-archive marker');
        if (second && !isZeroBlock(second)) throw invalidArgument(`tar: invalid header at offset ${at + TAR_BLOCK_BYTES} (data after a zero block)`);
        return;
      }
      const raw = decodeHeaderBlock(block, at);
      if (raw.size < 0) throw invalidArgument(`tar: negative size in header at offset ${at}`);
      const metadata = async (): Promise<Buffer> => {
        if (raw.size > maxMetadataBytes) {
          throw invalidArgument(`tar: extended header at offset ${at} is ${raw.size} bytes, over the ${maxMetadataBytes}-byte limit`);
        }
        const data = await bytes.readExact(raw.size, 'an extended header');
        if (!data) throw invalidArgument('tar: the archive is truncated: it ends inside an extended header');
        await bytes.skip(paddingFor(raw.size), 'an extended header');
        return Buffer.from(data);
      };
      switch (raw.typeflag) {
        case 'x':
          pending.pax = new Map([...(pending.pax ?? []), ...parsePaxRecords(await metadata())]);
          continue;
        case 'g':
          for (const [key, value] of parsePaxRecords(await metadata())) {
            if (value.length === 0) globals.delete(key);
            else globals.set(key, value);
          }
          continue;
        case 'L':
          pending.longName = cString(await metadata());
          continue;
        case 'K':
          pending.longLink = cString(await metadata());
          continue;
      }
      const header = resolveHeader(raw, globals, pending);
      pending = {};
      const entry = new Entry(header, bytes, options.signal);
      yield entry;
      await entry.skipRest();
    }
  } finally {
    await bytes.close();
  }
}

interface Pending {
  pax?: Map<string, Buffer>;
  longName?: string;
  longLink?: string;
}

function cString(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString('utf8', 0, end < 0 ? data.length : end);
}

function decimal(key: string, value: string, signed = false): number {
  if (!(signed ? /^-?[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(value)) throw invalidArgument(`tar: invalid PAX ${key} ${JSON.stringify(value)}`);
  const n = Number(value);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) throw invalidArgument(`tar: PAX ${key} overflows`);
  return n;
}

/** Applies, in rising precedence: the block itself, GNU long names, global then local PAX records. */
function resolveHeader(raw: RawHeader, globals: Map<string, Buffer>, pending: Pending): TarHeader {
  const h: TarHeader = {
    name: pending.longName ?? raw.name,
    type: entryTypeOf(raw.typeflag),
    typeflag: raw.typeflag,
    mode: raw.mode,
    uid: raw.uid,
    gid: raw.gid,
    size: raw.size,
    mtimeSeconds: raw.mtimeSeconds,
    linkname: pending.longLink ?? raw.linkname,
    uname: raw.uname,
    gname: raw.gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    pax: {},
  };
  const records = new Map(globals);
  // An empty local record cancels the global one and leaves the block's own value in force.
  for (const [key, value] of pending.pax ?? []) {
    if (value.length === 0) records.delete(key);
    else records.set(key, value);
  }
  for (const [key, bytes] of records) {
    const value = paxValueToString(key, bytes);
    switch (key) {
      case 'path':
        h.name = value;
        break;
      case 'linkpath':
        h.linkname = value;
        break;
      case 'size':
        h.size = decimal(key, value);
        break;
      case 'uid':
        h.uid = decimal(key, value);
        break;
      case 'gid':
        h.gid = decimal(key, value);
        break;
      case 'uname':
        h.uname = value;
        break;
      case 'gname':
        h.gname = value;
        break;
      case 'mtime':
        h.mtimeSeconds = decimal(key, value, true);
        break;
      default:
        h.pax[key] = value;
    }
  }
  // Pre-POSIX archives mark directories only by a trailing slash on a regular file's name.
  if (h.type === 'file' && h.typeflag === '0' && h.name.endsWith('/')) h.type = 'directory';
  // Links, devices, directories and fifos carry no data whatever their size field says; this
  // is how Go's archive/tar reads them, and Docker's layers are written and read by Go.
  if (h.type !== 'file' && h.type !== 'other') h.size = 0;
  if (h.name === '') throw invalidArgument('tar: entry with an empty name');
  return h;
}

class Entry implements TarEntry {
  readonly content: AsyncIterable<Buffer>;
  readonly #source: ByteReader;
  readonly #signal: AbortSignal | undefined;
  #remaining: number;
  #claimed = false;
  #stale = false;

  constructor(
    readonly header: TarHeader,
    source: ByteReader,
    signal: AbortSignal | undefined,
  ) {
    this.#source = source;
    this.#signal = signal;
    this.#remaining = header.size;
    this.content = { [Symbol.asyncIterator]: () => this.#open() };
  }

  #open(): AsyncIterator<Buffer> {
    if (this.#stale) throw failedPrecondition(`tar: content of ${this.header.name} read after moving to the next entry`);
    if (this.#claimed) throw failedPrecondition(`tar: content of ${this.header.name} can be read only once`);
    this.#claimed = true;
    return this.#chunks();
  }

  async *#chunks(): AsyncGenerator<Buffer, void, undefined> {
    while (this.#remaining > 0) {
      if (this.#stale) throw failedPrecondition(`tar: content of ${this.header.name} read after moving to the next entry`);
      this.#signal?.throwIfAborted();
      const chunk = await this.#source.readSome(this.#remaining, `the content of ${this.header.name}`);
      this.#remaining -= chunk.length;
      yield chunk;
    }
  }

  async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.content) parts.push(chunk);
    return Buffer.concat(parts, this.header.size);
  }

  /** Called by the reader before the next header: skips what the caller left unread. */
  async skipRest(): Promise<void> {
    this.#stale = true;
    await this.#source.skip(this.#remaining + paddingFor(this.header.size), `the content of ${this.header.name}`);
    this.#remaining = 0;
  }
}
