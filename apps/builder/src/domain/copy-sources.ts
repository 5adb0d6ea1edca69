import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats, openSync, readSync, closeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import { invalidArgument } from '@berth/errors';
import { readTar, TarWriter, type TarHeaderInput } from '@berth/tar';
import { inContext } from './context';
import { decompress, detectCompression } from '@berth/compression';

/** One node to put into the step's container: where it comes from and its name under '/'. */
export interface PlannedEntry {
  /** Host path (an fd path inside the context) or '' for a directory made on the way. */
  from: string;
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'archive';
  mode: number;
  size: number;
  mtime: number;
  linkname: string;
}

export interface Ownership {
  uid: number;
  gid: number;
  /** --chmod, applied to everything copied; undefined keeps the source's. */
  mode?: number;
}

/** Docker's glob (filepath.Match): `*`, `?`, `[...]`, no `**`. */
function globRegex(pattern: string): RegExp {
  let r = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') r += '[^/]*';
    else if (c === '?') r += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw invalidArgument(`syntax error in pattern: ${pattern}`);
      r += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else r += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${r}$`);
}

const hasMagic = (s: string) => /[*?[]/.test(s);

/** Context paths a COPY source names (wildcards expanded), relative, `..` refused. */
export function matchSources(root: string, src: string, keep: (rel: string) => boolean, what: string): string[] {
  const clean = posix.normalize(`/${src}`).slice(1);
  if (posix.normalize(src).startsWith('..')) throw invalidArgument(`${what} failed: forbidden path outside the build context: ${src} ()`);
  if (!hasMagic(clean)) {
    const rel = clean || '.';
    const exists = inContext(root, rel, () => true);
    if (!exists || (rel !== '.' && !keep(rel))) throw invalidArgument(`${what} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    return [rel];
  }
  const parts = clean.split('/');
  let found = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of found) {
      if (!hasMagic(part)) {
        const p = dir ? `${dir}/${part}` : part;
        if (inContext(root, p, () => true)) next.push(p);
        continue;
      }
      const re = globRegex(part);
      const names = inContext(root, dir || '.', (p) => (lstatSync(p).isDirectory() ? readdirSync(p) : [])) ?? [];
      for (const n of names.sort()) if (re.test(n)) next.push(dir ? `${dir}/${n}` : n);
    }
    found = next;
  }
  found = found.filter((f) => keep(f));
  if (!found.length) throw invalidArgument(`${what} failed: no source files were specified`);
  return found;
}

function isArchive(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, 512, 0);
    if (detectCompression(head.subarray(0, n)) !== 'none') return true;
    return n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}

/**
 * What a context COPY/ADD puts where: each source (a file, a directory's contents, a
 * symlink as a link) under the destination, with the checksum that keys the cache. Walks
 * never leave the context: every path is resolved inside it, and `.dockerignore`d paths
 * are skipped.
 */
export function planContextCopy(root: string, sources: string[], dest: string, keep: (rel: string) => boolean, add: boolean): { entries: PlannedEntry[]; checksum: string; label: string } {
  const entries: PlannedEntry[] = [];
  const hash = createHash('sha256');
  const destDir = dest.endsWith('/');
  const base = dest.replace(/^\/+/, '').replace(/\/+$/, '');
  let dirs = 0;
  const push = (e: PlannedEntry) => {
    entries.push(e);
    hash.update(`${e.name}\0${e.type}\0${e.mode}\0${e.linkname}\0`);
    if (e.type === 'file' || e.type === 'archive') hash.update(readFileSync(e.from));
  };
  const walk = (rel: string, name: string) => {
    inContext(root, rel, (p) => {
      const st = lstatSync(p);
      if (!st.isDirectory()) return;
      for (const n of readdirSync(p).sort()) {
        const childRel = rel === '.' ? n : `${rel}/${n}`;
        if (!keep(childRel)) continue;
        const cp = join(p, n);
        const cst = lstatSync(cp);
        const childName = name ? `${name}/${n}` : n;
        push(nodeOf(cp, childName, cst));
        if (cst.isDirectory()) walk(childRel, childName);
      }
    });
  };
  for (const src of sources) {
    const leaf = inContext(root, src, (p) => ({ p, st: lstatSync(p) }));
    if (!leaf) throw invalidArgument(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    if (leaf.st.isDirectory()) {
      dirs++;
      walk(src, base);
      continue;
    }
    const name = destDir || sources.length > 1 ? posix.join(base, posix.basename(src)) : base;
    if (add && leaf.st.isFile() && isArchive(leaf.p)) {
      push({ from: leaf.p, name: base, type: 'archive', mode: leaf.st.mode & 0o7777, size: leaf.st.size, mtime: leaf.st.mtimeMs / 1000, linkname: '' });
      continue;
    }
    // A symlink named as a source is followed (inside the context), as Docker does.
    const st = leaf.st.isSymbolicLink() ? lstatSync(leaf.p) : leaf.st;
    push(nodeOf(leaf.p, name, st));
  }
  if ((sources.length > 1 || dirs > 1) && !destDir) throw invalidArgument('When using COPY with more than one source file, the destination must be a directory and end with a /');
  const kind = sources.length === 1 && dirs === 1 ? 'dir' : entries.length === 1 ? 'file' : 'multi';
  const checksum = hash.digest('hex');
  return { entries, checksum, label: `${kind}:${checksum}` };
}

function nodeOf(p: string, name: string, st: Stats): PlannedEntry {
  const common = { from: p, name, mode: st.mode & 0o7777, size: st.size, mtime: st.mtimeMs / 1000, linkname: '' };
  if (st.isDirectory()) return { ...common, type: 'directory', size: 0 };
  if (st.isSymbolicLink()) return { ...common, type: 'symlink', size: 0, linkname: readlinkSync(p) };
  if (st.isFile()) return { ...common, type: 'file' };
  throw invalidArgument(`COPY failed: ${name} is not a regular file, directory or symlink`);
}

/** Clean member name of an archive entry (ADD's auto-extraction), refusing escapes. */
function member(raw: string): string {
  const parts = raw.split('/').filter((x) => x && x !== '.');
  if (raw.startsWith('/') || parts.includes('..')) throw invalidArgument(`ADD failed: archive entry escapes the destination: ${raw}`);
  return parts.join('/');
}

/**
 * The tar PutArchive extracts at '/': the missing parents of the destination first, then the
 * planned entries with the step's ownership and mode. Streamed: files are read as the tar
 * is consumed.
 */
export function copyTar(parents: string[], entries: PlannedEntry[], own: Ownership): AsyncIterable<Buffer> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const tar = new TarWriter(out);
  const head = (h: TarHeaderInput): TarHeaderInput => ({ ...h, uid: own.uid, gid: own.gid, ...(own.mode !== undefined && h.type !== 'symlink' ? { mode: own.mode } : {}) });
  void (async () => {
    for (const d of parents) await tar.add({ name: `${d}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    for (const e of entries) {
      if (e.type === 'archive') {
        for await (const a of readTar(decompress(createReadStream(e.from) as AsyncIterable<Buffer>))) {
          const rel = member(a.header.name);
          if (!rel) continue;
          const name = e.name ? `${e.name}/${rel}` : rel;
          if (a.header.type === 'hardlink') {
            const target = member(a.header.linkname);
            await tar.add({ ...a.header, name, linkname: e.name ? `${e.name}/${target}` : target });
          } else await tar.add({ ...a.header, name }, a.header.type === 'file' ? a.content : undefined);
        }
        continue;
      }
      if (!e.name) continue;
      if (e.type === 'directory') await tar.add(head({ name: `${e.name}/`, type: 'directory', mode: e.mode, mtimeSeconds: e.mtime }));
      else if (e.type === 'symlink') await tar.add(head({ name: e.name, type: 'symlink', linkname: e.linkname, mode: e.mode, mtimeSeconds: e.mtime }));
      else await tar.add(head({ name: e.name, type: 'file', mode: e.mode, size: e.size, mtimeSeconds: e.mtime }), createReadStream(e.from) as AsyncIterable<Buffer>);
    }
    await tar.finish();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out as AsyncIterable<Buffer>;
}

/**
 * COPY --from: a tar of `path` from another image's container (entries named from its base
 * name) renamed under the destination, as Docker copies a directory's contents or a file.
 */
export function renameArchive(source: AsyncIterable<Buffer>, srcIsDir: boolean, srcBase: string, dest: string, parents: string[], own: Ownership): AsyncIterable<Buffer> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const tar = new TarWriter(out);
  const base = dest.replace(/^\/+/, '').replace(/\/+$/, '');
  const fileName = dest.endsWith('/') ? posix.join(base, srcBase) : base;
  void (async () => {
    for (const d of parents) await tar.add({ name: `${d}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    for await (const a of readTar(source)) {
      const rel = member(a.header.name);
      let name: string;
      if (srcIsDir) {
        const inner = rel.split('/').slice(1).join('/');
        if (!inner) continue;
        name = base ? `${base}/${inner}` : inner;
      } else name = fileName;
      const h = { ...a.header, name: a.header.type === 'directory' ? `${name}/` : name, uid: own.uid, gid: own.gid, ...(own.mode !== undefined && a.header.type !== 'symlink' ? { mode: own.mode } : {}) };
      if (a.header.type === 'hardlink') h.linkname = base ? `${base}/${member(a.header.linkname).split('/').slice(1).join('/')}` : member(a.header.linkname);
      await tar.add(h, a.header.type === 'file' ? a.content : undefined);
    }
    await tar.finish();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out as AsyncIterable<Buffer>;
}
