/**
 * Value types shared by the tar writer and reader.
 *
 * Terms: an *entry* is one member of an archive: a header plus, for regular files only, its
 * content. A *header* here is the logical header, after PAX extended headers ('x', 'g') and
 * GNU long names ('L', 'K') have been folded in; those carrier records never surface as entries.
 *
 * A header the reader yields can be handed back to the writer unchanged (copy-through), which is
 * how a layer gets rewritten: `writer.add(entry.header, entry.content)`.
 */

/** What an entry is. `other` covers type flags this library does not interpret (GNU sparse, volume labels, ...). */
export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'char-device'
  | 'block-device'
  | 'fifo'
  | 'other';

export interface TarHeader {
  /** Path inside the archive as stored; directories usually end with '/'. */
  name: string;
  type: TarEntryType;
  /** The raw type flag character, for callers that care about `other` entries. */
  typeflag: string;
  /** Permission bits including setuid, setgid and sticky (masked to 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length in bytes; 0 for links, directories, devices and fifos. */
  size: number;
  /** Modification time in seconds since the epoch; fractional when a PAX header said so. */
  mtimeSeconds: number;
  /** Target of a symlink, or the archive path of a hardlink's first name; '' otherwise. */
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /**
   * PAX records that have no field above (xattrs as `SCHILY.xattr.*`, `atime`, `ctime`, ...).
   * Records the fields above already carry (path, size, ...) are never repeated here. Values
   * are UTF-8 text, except `SCHILY.xattr.*`, whose values are raw bytes held one char per
   * byte (`Buffer.from(value, 'latin1')` gives them back).
   */
  pax: Record<string, string>;
}

/** What the writer needs: a name, everything else has a deterministic default. */
export type TarHeaderInput = { name: string } & Partial<Omit<TarHeader, 'name' | 'typeflag'>>;

/** Content for a regular file. An async or sync iterable needs `size` in the header. */
export type TarContent = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Archive bytes for the reader: a Node Readable, any (async) iterable of chunks, or one buffer. */
export type TarSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

export interface TarEntry {
  readonly header: TarHeader;
  /**
   * The content, pulled from the archive as it is iterated. It can be iterated once, and only
   * until the next entry is requested; content left unread is skipped then.
   */
  readonly content: AsyncIterable<Buffer>;
  /** Reads the whole content into one buffer (same once-only rule as `content`). */
  bytes(): Promise<Buffer>;
}

export interface TarWriterOptions {
  /** End a Writable sink when `finish()` is called (default true), as `stream.pipeline` would. */
  endStream?: boolean;
}

export interface TarReaderOptions {
  /** Cap on one PAX header or GNU long name/link record; larger ones are rejected. */
  maxMetadataBytes?: number;
  /** Checked before each header and each content chunk; the source is closed on abort. */
  signal?: AbortSignal;
}

/** Big enough for any path or xattr set seen in real layers, small enough to bound memory. */
export const DEFAULT_MAX_METADATA_BYTES = 1024 * 1024;

/** Records the header fields own; they never appear in `TarHeader.pax`. */
export const PAX_FIELD_KEYS: ReadonlySet<string> = new Set([
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'uname',
  'gname',
  'mtime',
]);
