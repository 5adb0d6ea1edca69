import { invalidArgument } from '@berth/errors';

/** One tar entry's metadata, after PAX and GNU long-name records are applied. */
export interface TarHeader {
  name: string;
  /** '0' file, '1' hardlink, '2' symlink, '3' char dev, '4' block dev, '5' dir, '6' fifo. */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` records. */
  xattrs: Record<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's content in chunks; must be read (or skipped with `drain`) before the next entry. */
  body(): AsyncGenerator<Buffer>;
  drain(): Promise<void>;
}

/** Most PAX/long-name records are short; this bounds memory on hostile archives. */
export const MAX_META_BYTES = 1 << 20;

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteReader {
  private buf = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer | Uint8Array | string>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, Buffer.from(r.value)]) : Buffer.from(r.value);
    }
    return this.buf.length >= n;
  }

  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) return this.buf.length === 0 ? null : this.truncated();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Up to `n` bytes as they arrive. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) this.truncated();
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  private truncated(): never {
    throw invalidArgument('unexpected EOF: the tar archive is truncated');
  }
}

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    // base-256 (GNU) for values that do not fit in octal
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    if (v > Number.MAX_SAFE_INTEGER) throw invalidArgument('tar header number out of range');
    return v;
  }
  const s = str(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalidArgument(`invalid tar header: bad number ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === num(h, 148, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(data.subarray(off, sp).toString());
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw invalidArgument('invalid PAX header record');
    const rec = data.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

const pad = (n: number) => (512 - (n % 512)) % 512;

/**
 * Reads a tar stream entry by entry (ustar, PAX and GNU long names), never holding more than
 * one chunk of content in memory. Malformed input is an INVALID_ARGUMENT error, never a crash.
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.read(512);
    if (!h) return;
    if (h.every((b) => b === 0)) return;
    if (!checksumOk(h)) throw invalidArgument('invalid tar header: checksum mismatch');
    const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    let size = num(h, 124, 12);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_META_BYTES) throw invalidArgument('tar metadata record too large');
      const data = (await r.read(size)) ?? Buffer.alloc(0);
      if (data.length < size) throw invalidArgument('unexpected EOF: the tar archive is truncated');
      if (pad(size)) await r.read(pad(size));
      if (type === 'x') pax = { ...pax, ...parsePax(data) };
      else if (type === 'g') globalPax = { ...globalPax, ...parsePax(data) };
      else if (type === 'L') longName = str(data, 0, data.length);
      else longLink = str(data, 0, data.length);
      continue;
    }
    const meta = { ...globalPax, ...pax };
    const prefix = h.subarray(257, 263).toString('latin1').startsWith('ustar') ? str(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    if (meta.path !== undefined) name = meta.path;
    if (meta.size !== undefined) size = Number(meta.size);
    if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('invalid tar header: bad size');
    const xattrs: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(meta)) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = Buffer.from(v, 'latin1');
    const header: TarHeader = {
      name,
      type,
      mode: num(h, 100, 8) & 0o7777,
      uid: meta.uid !== undefined ? Number(meta.uid) : num(h, 108, 8),
      gid: meta.gid !== undefined ? Number(meta.gid) : num(h, 116, 8),
      size: type === '0' || type === '7' ? size : 0,
      mtimeMs: (meta.mtime !== undefined ? Number(meta.mtime) : num(h, 136, 12)) * 1000,
      linkname: meta.linkpath ?? longLink ?? str(h, 157, 100),
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
      xattrs,
    };
    pax = {};
    longName = undefined;
    longLink = undefined;
    const bodySize = type === '0' || type === '7' ? size : type === '5' || type === '1' || type === '2' ? 0 : size;
    // Shared by body() and drain(), so a consumer that stops half-way still leaves the reader
    // at the next header.
    let left = bodySize;
    let padded = false;
    const finish = async () => {
      if (!padded && left === 0) {
        padded = true;
        if (pad(bodySize)) await r.read(pad(bodySize));
      }
    };
    const body = async function* (): AsyncGenerator<Buffer> {
      for await (const c of r.chunks(left)) {
        left -= c.length;
        yield c;
      }
      await finish();
    };
    const entry: TarEntry = {
      header,
      body,
      drain: async () => {
        for await (const c of r.chunks(left)) left -= c.length;
        await finish();
      },
    };
    yield entry;
    await entry.drain();
  }
}
