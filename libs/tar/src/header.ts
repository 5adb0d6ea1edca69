import { invalidArgument } from '@berth/errors';
import { octalLimit, readNumeric, writeOctal } from './numeric';
import { encodePaxRecords, paxValueFromString } from './pax';
import { PAX_FIELD_KEYS, type TarEntryType, type TarHeader, type TarHeaderInput } from './types';

export const TAR_BLOCK_BYTES = 512;

/** Type flags this library writes; the reader maps a few more onto the same types. */
const TYPEFLAG: Record<Exclude<TarEntryType, 'other'>, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

const DEFAULT_MODE: Record<Exclude<TarEntryType, 'other'>, number> = {
  file: 0o644,
  hardlink: 0o644,
  symlink: 0o777,
  'char-device': 0o644,
  'block-device': 0o644,
  directory: 0o755,
  fifo: 0o644,
};

// ustar field offsets and widths (POSIX.1-1988 as refined by POSIX.1-2001).
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

const PLAIN_ASCII = /^[\x01-\x7f]*$/;

export function paddingFor(size: number): number {
  return (TAR_BLOCK_BYTES - (size % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function fail(name: string, why: string): never {
  throw invalidArgument(`tar: entry ${JSON.stringify(name)}: ${why}`);
}

function checkUint(name: string, field: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) fail(name, `${field} ${value} is out of range`);
}

function checkText(name: string, field: string, value: string): void {
  if (value.includes('\0')) fail(name, `${field} contains NUL`);
}

/**
 * Fills in defaults and checks an input header. Defaults are fixed values, never the clock or
 * the process's ids, so the same input always gives the same bytes. Directory names get a
 * trailing '/', as GNU tar and Go write them and as old readers expect.
 */
export function normalizeHeader(input: TarHeaderInput): TarHeader {
  const type = input.type ?? 'file';
  const raw = input.name;
  if (type === 'other') fail(raw, "type 'other' cannot be written");
  if (raw === '') throw invalidArgument('tar: entry name is empty');
  checkText(raw, 'name', raw);
  const name = type === 'directory' && !raw.endsWith('/') ? `${raw}/` : raw;
  const linkname = input.linkname ?? '';
  checkText(name, 'linkname', linkname);
  if ((type === 'symlink' || type === 'hardlink') && linkname === '') fail(name, `a ${type} needs a linkname`);
  if (type !== 'symlink' && type !== 'hardlink' && linkname !== '') fail(name, `a ${type} has no linkname`);
  const size = input.size ?? 0;
  checkUint(name, 'size', size);
  if (type !== 'file' && size !== 0) fail(name, `a ${type} has no content`);
  const mode = input.mode ?? DEFAULT_MODE[type];
  checkUint(name, 'mode', mode, 0o7777);
  const uid = input.uid ?? 0;
  const gid = input.gid ?? 0;
  checkUint(name, 'uid', uid);
  checkUint(name, 'gid', gid);
  const mtimeSeconds = input.mtimeSeconds ?? 0;
  if (!Number.isFinite(mtimeSeconds)) fail(name, 'mtime is not a finite number');
  const uname = input.uname ?? '';
  const gname = input.gname ?? '';
  checkText(name, 'uname', uname);
  checkText(name, 'gname', gname);
  // Device numbers have no PAX record, so they must fit the ustar fields.
  const devmajor = input.devmajor ?? 0;
  const devminor = input.devminor ?? 0;
  checkUint(name, 'devmajor', devmajor, octalLimit(8));
  checkUint(name, 'devminor', devminor, octalLimit(8));
  const pax = { ...(input.pax ?? {}) };
  for (const key of Object.keys(pax)) {
    if (PAX_FIELD_KEYS.has(key)) fail(name, `PAX record ${key} is set through its header field`);
  }
  return { name, type, typeflag: TYPEFLAG[type], mode, uid, gid, size, mtimeSeconds, linkname, uname, gname, devmajor, devminor, pax };
}

/** A long ASCII name may still fit ustar as prefix + '/' + name, split at some slash. */
function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (!PLAIN_ASCII.test(name)) return null;
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    const rest = name.length - i - 1;
    if (i > 0 && rest > 0 && rest <= 100) return { prefix: name.slice(0, i), name: name.slice(i + 1) };
  }
  return null;
}

/** What goes in a ustar field whose real value travels in a PAX record: readable, never relied on. */
function fallback(value: string, width: number): string {
  return value.replace(/[^\x20-\x7e]/g, '_').slice(0, width);
}

function fitsText(value: string, width: number): boolean {
  return PLAIN_ASCII.test(value) && value.length <= width;
}

function formatMtime(seconds: number): string {
  if (Number.isInteger(seconds)) return String(seconds);
  return seconds.toFixed(9).replace(/0+$/, '');
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function ustarBlock(f: UstarFields): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_BYTES);
  const text = (field: keyof typeof F, value: string) => block.write(value, F[field][0], F[field][1], 'utf8');
  const octal = (field: keyof typeof F, value: number) => writeOctal(block, F[field][0], F[field][1], value);
  text('name', f.name);
  octal('mode', f.mode);
  octal('uid', f.uid);
  octal('gid', f.gid);
  octal('size', f.size);
  octal('mtime', f.mtime);
  text('typeflag', f.typeflag);
  text('linkname', f.linkname);
  block.write('ustar\x0000', F.magic[0], 8, 'latin1');
  text('uname', f.uname);
  text('gname', f.gname);
  octal('devmajor', f.devmajor);
  octal('devminor', f.devminor);
  text('prefix', f.prefix);
  // Six digits, NUL, space: the checksum layout GNU tar writes.
  block.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
  writeOctal(block, F.chksum[0], 7, checksum(block));
  return block;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
    sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : block[i]!;
  }
  return sum;
}

function signedChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
    sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : (block[i]! << 24) >> 24;
  }
  return sum;
}

/**
 * The header blocks for one entry: a ustar block, preceded by a PAX 'x' header when a value
 * does not fit ustar (long or non-ASCII names, sizes of 8 GiB and up, big ids, fractional or
 * negative mtimes) or when the header carries extra PAX records. Records are sorted by key so
 * the bytes are deterministic.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const records = new Map<string, string>(Object.entries(h.pax));
  const split = splitUstarName(h.name);
  if (!split) records.set('path', h.name);
  if (!fitsText(h.linkname, 100)) records.set('linkpath', h.linkname);
  if (h.size > octalLimit(12)) records.set('size', String(h.size));
  if (h.uid > octalLimit(8)) records.set('uid', String(h.uid));
  if (h.gid > octalLimit(8)) records.set('gid', String(h.gid));
  if (!fitsText(h.uname, 32)) records.set('uname', h.uname);
  if (!fitsText(h.gname, 32)) records.set('gname', h.gname);
  const mtimeLimit = octalLimit(12);
  if (!Number.isInteger(h.mtimeSeconds) || h.mtimeSeconds < 0 || h.mtimeSeconds > mtimeLimit) {
    records.set('mtime', formatMtime(h.mtimeSeconds));
  }
  const mtime = Math.min(Math.max(Math.floor(h.mtimeSeconds), 0), mtimeLimit);
  const entry = ustarBlock({
    name: split ? split.name : fallback(h.name, 100),
    prefix: split ? split.prefix : '',
    mode: h.mode,
    uid: Math.min(h.uid, octalLimit(8)),
    gid: Math.min(h.gid, octalLimit(8)),
    size: h.size > octalLimit(12) ? 0 : h.size,
    mtime,
    typeflag: h.typeflag,
    linkname: fitsText(h.linkname, 100) ? h.linkname : fallback(h.linkname, 100),
    uname: fitsText(h.uname, 32) ? h.uname : fallback(h.uname, 32),
    gname: fitsText(h.gname, 32) ? h.gname : fallback(h.gname, 32),
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (records.size === 0) return entry;

  const data = encodePaxRecords(
    [...records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, paxValueFromString(k, v)] as const),
  );
  const base = h.name.split('/').filter((p) => p !== '').pop() ?? 'entry';
  const pax = ustarBlock({
    name: fallback(`PaxHeaders/${base}`, 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime,
    typeflag: 'x',
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([pax, data, Buffer.alloc(paddingFor(data.length)), entry]);
}

/** A header block as stored, before extended headers are applied. */
export interface RawHeader {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSeconds: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function readText(block: Buffer, [offset, width]: readonly [number, number]): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end < 0 || end > offset + width ? offset + width : end);
}

/**
 * Decodes one non-zero header block. `where` is the archive offset, for error messages. The
 * checksum is accepted as an unsigned or a signed byte sum, since some historic writers used
 * signed chars.
 */
export function decodeHeaderBlock(block: Buffer, where: number): RawHeader {
  let stored: number;
  try {
    stored = readNumeric(block, F.chksum[0], F.chksum[1], 'checksum');
  } catch {
    stored = Number.NaN; // not even a number: reported below like any other mismatch
  }
  if (stored !== checksum(block) && stored !== signedChecksum(block)) {
    throw invalidArgument(`tar: invalid header checksum at offset ${where} (not a tar archive, or corrupted)`);
  }
  const magic = block.toString('latin1', F.magic[0], F.magic[0] + F.magic[1]);
  const posix = magic === 'ustar\0';
  const extended = posix || magic === 'ustar ';
  const num = (field: keyof typeof F) => readNumeric(block, F[field][0], F[field][1], field);
  const flag = block[F.typeflag[0]] === 0 ? '0' : String.fromCharCode(block[F.typeflag[0]]!);
  // The prefix field exists only in POSIX ustar; GNU keeps its own data at that offset.
  const prefix = posix ? readText(block, F.prefix) : '';
  const name = readText(block, F.name);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    typeflag: flag,
    mode: num('mode') & 0o7777,
    uid: num('uid'),
    gid: num('gid'),
    size: num('size'),
    mtimeSeconds: num('mtime'),
    linkname: readText(block, F.linkname),
    uname: extended ? readText(block, F.uname) : '',
    gname: extended ? readText(block, F.gname) : '',
    devmajor: extended ? num('devmajor') : 0,
    devminor: extended ? num('devminor') : 0,
  };
}

export function entryTypeOf(typeflag: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '7': // contiguous file: a regular file to everyone but a few 1980s systems
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}
