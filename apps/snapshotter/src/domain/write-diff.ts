import { closeSync, constants as C, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { lgetxattr } from '@berth/sys';
import type { TarHeaderInput, TarWriter } from '@berth/tar';
import { ChangeKind, INIT_PATHS } from './changes';
import { naiveChanges } from './naive-diff';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const CHUNK_BYTES = 1 << 20;

async function* content(path: string, size: number): AsyncGenerator<Uint8Array> {
  const fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.alloc(Math.min(CHUNK_BYTES, left));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) {
        // Shrunk while read (a running container not paused): keep the announced size.
        yield Buffer.alloc(left);
        return;
      }
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function isOpaque(path: string): boolean {
  try {
    return lgetxattr(path, 'trusted.overlay.opaque')?.toString() === 'y';
  } catch {
    return false;
  }
}

/**
 * Writes an overlay upper dir as an OCI layer: overlay's whiteouts (0/0 character devices)
 * become `.wh.<name>` entries and opaque directories get a `.wh..wh..opq` entry, the way
 * the layer format says deletions are carried. Hardlinks within the dir stay hardlinks.
 */
export async function writeOverlayDiff(upper: string, exclude: string[], tar: TarWriter): Promise<void> {
  const skip = new Set([...INIT_PATHS, ...exclude]);
  const links = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (skip.has(`/${path}`)) continue;
      const host = join(upper, path);
      let st: Stats;
      try {
        st = lstatSync(host);
      } catch {
        continue;
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        await tar.add({ name: rel ? `${rel}/${WH}${name}` : `${WH}${name}`, mode: 0o600, mtimeSeconds: Math.floor(st.mtimeMs / 1000) });
        continue;
      }
      await addNode(tar, host, path, st, links);
      if (st.isDirectory()) {
        if (isOpaque(host)) await tar.add({ name: `${path}/${OPAQUE}`, mode: 0o600, mtimeSeconds: Math.floor(st.mtimeMs / 1000) });
        await walk(path);
      }
    }
  };
  await walk('');
  await tar.finish();
}

/** One node of a tree as a tar entry (a directory's children are not included). */
async function addNode(tar: TarWriter, host: string, path: string, st: Stats, links: Map<string, string>): Promise<void> {
  const base: TarHeaderInput = { name: path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeSeconds: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) {
    await tar.add({ ...base, name: `${path}/`, type: 'directory' });
  } else if (st.isSymbolicLink()) {
    await tar.add({ ...base, type: 'symlink', linkname: readlinkSync(host) });
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first !== undefined) {
      await tar.add({ ...base, type: 'hardlink', linkname: first });
      return;
    }
    if (st.nlink > 1) links.set(key, path);
    await tar.add({ ...base, type: 'file', size: st.size }, content(host, st.size));
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    await tar.add({
      ...base,
      type: st.isCharacterDevice() ? 'char-device' : 'block-device',
      devmajor: Math.floor(st.rdev / 256) & 0xfff,
      devminor: (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00),
    });
  } else if (st.isFIFO()) {
    await tar.add({ ...base, type: 'fifo' });
  }
}

/**
 * Writes what a full-copy snapshot changed over its parent (see naiveChanges) as an OCI layer:
 * added and modified nodes whole, deleted ones as `.wh.<name>` entries.
 */
export async function writeNaiveDiff(dir: string, parentDir: string | undefined, exclude: string[], tar: TarWriter): Promise<void> {
  const links = new Map<string, string>();
  for (const change of naiveChanges(dir, parentDir, exclude)) {
    const path = change.path.slice(1);
    if (change.kind === ChangeKind.Deleted) {
      const slash = path.lastIndexOf('/');
      await tar.add({ name: `${path.slice(0, slash + 1)}${WH}${path.slice(slash + 1)}`, mode: 0o600, mtimeSeconds: Math.floor(Date.now() / 1000) });
      continue;
    }
    const host = join(dir, path);
    let st: Stats;
    try {
      st = lstatSync(host);
    } catch {
      continue;
    }
    await addNode(tar, host, path, st, links);
  }
  await tar.finish();
}
