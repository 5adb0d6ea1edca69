import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync, chmodSync, utimesSync } from 'node:fs';
import { once } from 'node:events';
import { posix, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalidArgument } from '@berth/errors';
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '@berth/sys';
import { readTar, type TarHeader } from '@berth/tar';

export type WhiteoutStyle = 'overlay' | 'delete';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Cleans an entry name to a path relative to the layer root, or refuses it. */
export function safeRelative(name: string): string {
  if (name.split('/').includes('..')) throw invalidArgument(`invalid layer: entry ${JSON.stringify(name)} escapes the layer root ('..')`);
  return posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
}

function exists(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Creates the parent directories of `rel` under root, refusing when an existing component is
 * not a plain directory: a symlink planted by an earlier entry must never redirect a write.
 */
function parentOf(root: string, rel: string): string {
  const parts = rel.split('/').slice(0, -1);
  let cur = root;
  for (const p of parts) {
    cur = join(cur, p);
    const st = exists(cur);
    if (!st) mkdirSync(cur, { mode: 0o755 });
    else if (!st.isDirectory()) throw invalidArgument(`invalid layer: ${rel} would be written through ${st.isSymbolicLink() ? 'a symlink' : 'a non-directory'} (${parts.join('/')})`);
  }
  return cur;
}

/**
 * Applies one layer tarball (plain or gzip) to `root`, honouring whiteouts: with the overlay
 * style they become overlay whiteouts (0/0 char devices and the opaque xattr) in an upper
 * dir; with the delete style the whited-out paths are removed from a full copy. Returns the
 * diff ID (sha256 of the uncompressed tar) and the bytes of file content written.
 */
export async function applyLayer(root: string, blobPath: string, style: WhiteoutStyle): Promise<{ diffId: string; size: number }> {
  const raw = createReadStream(blobPath);
  const head = await new Promise<Buffer>((resolve, reject) => {
    const r = createReadStream(blobPath, { start: 0, end: 1 });
    const chunks: Buffer[] = [];
    r.on('data', (c) => chunks.push(c as Buffer));
    r.on('end', () => resolve(Buffer.concat(chunks)));
    r.on('error', reject);
  });
  const tar: Readable = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const hash = createHash('sha256');
  const tee = new PassThrough();
  tar.on('data', (c: Buffer) => hash.update(c));
  tar.on('error', (err) => tee.destroy(err));
  tar.pipe(tee);
  const written = new Set<string>();
  const dirTimes: [string, number][] = [];
  const opaque: string[] = [];
  let size = 0;
  // The reader stops at the end-of-archive blocks; hide return() from it so the stream stays
  // open and the rest can still be hashed (it is part of the diff ID).
  const it = tee[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const source: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
  for await (const e of readTar(source)) {
    const h = e.header;
    const rel = safeRelative(h.name);
    if (rel === '') continue;
    const base = posix.basename(rel);
    const dirRel = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    if (base === OPAQUE) {
      const dir = dirRel ? join(parentOf(root, `${dirRel}/x`), '') : root;
      if (style === 'overlay') lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      else opaque.push(dirRel);
      continue;
    }
    if (base.startsWith(WH)) {
      const target = join(parentOf(root, rel), base.slice(WH.length));
      rmSync(target, { recursive: true, force: true });
      if (style === 'overlay') mknod(target, S_IFCHR | 0o000, 0, 0);
      continue;
    }
    const path = join(parentOf(root, rel), base);
    const st = exists(path);
    if (st && !(st.isDirectory() && h.type === 'directory')) rmSync(path, { recursive: true, force: true });
    written.add(rel);
    size += await writeEntry(root, path, h, e.content);
    if (h.type === 'directory') dirTimes.push([path, h.mtimeSeconds]);
  }
  while (!(await it.next()).done);
  for (const d of opaque) {
    const dir = d ? join(root, d) : root;
    for (const child of readdirSync(dir)) {
      const rel = d ? `${d}/${child}` : child;
      if (![...written].some((w) => w === rel || w.startsWith(`${rel}/`))) rmSync(join(dir, child), { recursive: true, force: true });
    }
  }
  // Directory times last: creating their children changed them.
  for (const [p, t] of dirTimes.reverse()) utimesSync(p, t, t);
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

async function writeEntry(root: string, path: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<number> {
  const t = h.mtimeSeconds;
  let bytes = 0;
  switch (h.type) {
    case 'file': {
      const out = createWriteStream(path, { mode: 0o600 });
      for await (const c of body) {
        bytes += c.length;
        if (!out.write(c)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'close');
      break;
    }
    case 'directory':
      if (!exists(path)) mkdirSync(path, { mode: 0o700 });
      break;
    case 'symlink':
      symlinkSync(h.linkname, path);
      break;
    case 'hardlink': {
      const target = safeRelative(h.linkname);
      const src = join(root, target);
      const st = exists(src);
      if (!st || st.isDirectory()) throw invalidArgument(`invalid layer: hardlink ${h.name} points at ${h.linkname}, which is not a file in this layer`);
      // parentOf() refuses symlinked parents of the target as well.
      parentOf(root, target);
      linkSync(src, path);
      return 0;
    }
    case 'char-device':
    case 'block-device':
      mknod(path, (h.type === 'char-device' ? S_IFCHR : S_IFBLK) | h.mode, h.devmajor, h.devminor);
      break;
    case 'fifo':
      mknod(path, S_IFIFO | h.mode);
      break;
    default:
      throw invalidArgument(`invalid layer: unsupported tar entry type ${JSON.stringify(h.typeflag)} for ${h.name}`);
  }
  lchownSync(path, h.uid, h.gid);
  if (h.type !== 'symlink') chmodSync(path, h.mode);
  for (const [k, v] of Object.entries(h.pax)) {
    if (k.startsWith('SCHILY.xattr.')) lsetxattr(path, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1'));
  }
  lutimesSync(path, t, t);
  return bytes;
}
