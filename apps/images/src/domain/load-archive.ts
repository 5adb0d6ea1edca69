import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { decompress } from '@berth/compression';
import { invalidArgument } from '@berth/errors';
import { familiarName, parseReference } from '@berth/reference';
import { asUntarError, readTar } from '@berth/tar';
import type { ContentStore } from './content-store';
import type { ImageRecord, ImageStore } from './image-store';
import { manifestBytes, OCI_LAYER, OCI_LAYER_GZIP } from './oci-media';

export const MAX_ARCHIVE_JSON_BYTES = 4 * 1024 * 1024;
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

interface ArchiveManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function isGzipBlob(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export interface LoadOptions {
  /** What the archive may expand to once decompressed (see @berth/compression's expandedLimitBytes). */
  maxExpandedBytes?: number;
}

/**
 * `docker load`: stores every file of the archive as a blob (digest-verified where the archive
 * names it by digest), then records each image listed in manifest.json and unpacks it. No
 * image is recorded until all of its blobs are stored, and one whose unpack fails is removed.
 *
 * The archive (plain, gzip, bzip2, xz or zstd) is read as it arrives: bytes that are not a tar,
 * or an archive cut short, fail at once. Blobs this load stored that no image ends up naming
 * (a failure, or members manifest.json does not list) are removed before it returns.
 */
export async function loadArchive(
  source: AsyncIterable<Uint8Array>,
  content: ContentStore,
  images: ImageStore,
  unpack: (img: ImageRecord) => Promise<unknown>,
  say: (line: string) => void,
  options: LoadOptions = {},
): Promise<string[]> {
  const stored = new Set<string>();
  // Stored blobs are held against garbage collection until the images naming them are recorded.
  try {
    return await content.leases.during((hold) =>
      loadHeld(source, content, images, unpack, say, options, (d, fresh) => {
        hold([d]);
        if (fresh) stored.add(d);
      }),
    );
  } finally {
    dropUnnamed(stored, content, images);
  }
}

/** Removes the blobs of `fresh` that no image record names and no other work holds. */
function dropUnnamed(fresh: Set<string>, content: ContentStore, images: ImageStore): void {
  if (fresh.size === 0) return;
  const named = new Set<string>();
  for (const img of images.list()) {
    named.add(img.id);
    named.add(img.manifestDigest);
    for (const l of img.layers) named.add(l.digest);
  }
  for (const d of fresh) if (!named.has(d) && !content.leases.has(d)) content.delete(d);
}

async function loadHeld(
  source: AsyncIterable<Uint8Array>,
  content: ContentStore,
  images: ImageStore,
  unpack: (img: ImageRecord) => Promise<unknown>,
  say: (line: string) => void,
  options: LoadOptions,
  hold: (digest: string, fresh: boolean) => void,
): Promise<string[]> {
  const byPath = new Map<string, string>();
  const links = new Map<string, string>();
  let manifestJson: Buffer | undefined;
  try {
    for await (const e of readTar(decompress(source, { maxOutputBytes: options.maxExpandedBytes }))) {
      const name = posix.normalize(e.header.name).replace(/^\.\//, '').replace(/\/$/, '');
      if (name.startsWith('..') || name.startsWith('/')) throw invalidArgument(`invalid archive: entry ${JSON.stringify(e.header.name)} escapes the archive`);
      if (e.header.type === 'symlink' || e.header.type === 'hardlink') {
        links.set(name, e.header.type === 'symlink' ? posix.join(posix.dirname(name), e.header.linkname) : posix.normalize(e.header.linkname));
        continue;
      }
      if (e.header.type !== 'file') continue;
      if (name === 'manifest.json') {
        if (e.header.size > MAX_ARCHIVE_JSON_BYTES) throw invalidArgument('invalid archive: manifest.json is too large');
        manifestJson = await e.bytes();
        continue;
      }
      const m = BLOB_PATH.exec(name);
      const w = m ? await content.writer(`sha256:${m[1]}`, e.header.size) : await content.writerUnverified();
      try {
        for await (const c of e.content) await w.write(c);
        const fresh = !(m && content.has(`sha256:${m[1]}`));
        const stored = (await w.commit()).digest;
        hold(stored, fresh && !content.leases.has(stored));
        byPath.set(name, stored);
      } catch (err) {
        await w.abort();
        throw err;
      }
    }
  } catch (err) {
    throw asUntarError(err);
  }
  if (!manifestJson) throw invalidArgument('invalid archive: manifest.json not found (is this a `docker save` archive?)');
  let items: ArchiveManifestItem[];
  try {
    items = JSON.parse(manifestJson.toString('utf8')) as ArchiveManifestItem[];
  } catch {
    throw invalidArgument('invalid archive: manifest.json is not valid JSON');
  }
  if (!Array.isArray(items)) throw invalidArgument('invalid archive: manifest.json must be a list');
  const resolve = (p: string): string => {
    let path = posix.normalize(p);
    for (let hops = 0; links.has(path) && hops < 16; hops++) path = links.get(path)!;
    const d = byPath.get(path);
    if (!d) throw invalidArgument(`invalid archive: ${p} is listed in manifest.json but not in the archive`);
    return d;
  };
  const loaded: string[] = [];
  for (const item of items) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) throw invalidArgument('invalid archive: malformed manifest.json entry');
    const config = content.stat(resolve(item.Config));
    const layers = [];
    for (const l of item.Layers) {
      const info = content.stat(resolve(l));
      layers.push({ mediaType: (await isGzipBlob(info.path)) ? OCI_LAYER_GZIP : OCI_LAYER, digest: info.digest, size: info.size });
    }
    const manifest = manifestBytes(config, layers);
    const tags = (item.RepoTags ?? []).map((t) => familiarName(parseReference(t)));
    const existed = (() => {
      try {
        images.get(config.digest);
        return true;
      } catch {
        return false;
      }
    })();
    const stored = await content.put(manifest);
    hold(stored.digest, false);
    const img = await images.put(stored.digest, tags);
    try {
      await unpack(img);
    } catch (err) {
      if (!existed) images.delete(img.id, true);
      throw err;
    }
    for (const t of tags) say(`Loaded image: ${t}`);
    if (tags.length === 0) say(`Loaded image ID: ${img.id}`);
    loaded.push(img.id);
  }
  return loaded;
}
