import { randomBytes } from 'node:crypto';
import { decompress } from '@berth/compression';
import { invalidArgument, isAlreadyExists } from '@berth/errors';
import { familiarName, parseReference } from '@berth/reference';
import { asUntarError, readTar } from '@berth/tar';
import { applyChanges } from './changes';
import type { ContentStore } from './content-store';
import type { ImageRecord, ImageStore } from './image-store';
import type { LayerSnapshots } from './unpack';
import { manifestBytes, tarLayer } from './oci-media';

export interface ImportOptions {
  tag: string;
  changes: string[];
  message: string;
  /** What the tarball may expand to once decompressed (see @berth/compression's expandedLimitBytes). */
  maxExpandedBytes?: number;
}

/**
 * `docker import`: one layer from a rootfs tarball. The layer is unpacked first, because its
 * diff ID (which the config must name) is only known once the tarball has been read.
 *
 * The tarball (plain, gzip, bzip2, xz or zstd) is decompressed and parsed as it arrives, so
 * bytes that are not a tar, or a tar cut short, fail at once and leave no blob behind; the
 * layer is stored uncompressed, which any snapshotter can apply.
 */
export async function importRootfs(
  source: AsyncIterable<Uint8Array>,
  opts: ImportOptions,
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
): Promise<ImageRecord> {
  // The layer's blob and snapshot are held against garbage collection until the image names them.
  return content.leases.during((hold) => importHeld(source, opts, content, images, snaps, hold));
}

async function importHeld(
  source: AsyncIterable<Uint8Array>,
  opts: ImportOptions,
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
  hold: (names: string[]) => void,
): Promise<ImageRecord> {
  const config = applyChanges({}, opts.changes);
  const tag = opts.tag ? familiarName(parseReference(opts.tag)) : '';
  const w = await content.writerUnverified();
  const tar = decompress(source, { maxOutputBytes: opts.maxExpandedBytes });
  // Every byte the reader pulls is stored as it passes, and what follows the end-of-archive
  // marker (padding to the record size) after it, so the blob is the tarball as sent.
  let storedBytes = 0;
  const stored = (async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of tar) {
      await w.write(chunk);
      storedBytes += chunk.length;
      yield chunk;
    }
  })();
  try {
    // The reader would end the source it reads; this one is drained after the reader is done.
    const view: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => stored.next() }) };
    for await (const e of readTar(view)) void e;
    for (let r = await stored.next(); !r.done; r = await stored.next());
    if (storedBytes === 0) throw invalidArgument('tar: the archive is truncated: it is empty');
  } catch (err) {
    await stored.return(undefined);
    await w.abort();
    throw asUntarError(err);
  }
  const layer = await w.commit();
  hold([layer.digest]);
  const key = `import-${randomBytes(6).toString('hex')}`;
  await snaps.prepare(key, '');
  let diffId = '';
  try {
    diffId = (await snaps.applyLayer(key, layer.path, '')).diffId;
    hold([diffId]);
    await snaps.commit(diffId, key);
  } catch (err) {
    await snaps.remove(key).catch(() => undefined);
    // The same layer may be unpacked already (committed under its diff ID): reuse it.
    if (!(diffId && isAlreadyExists(err))) throw err;
  }
  const created = new Date().toISOString();
  const cfg = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      created,
      comment: opts.message || 'Imported from -',
      config,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: '', comment: opts.message || 'Imported from -' }],
    }),
  );
  const cfgBlob = await content.put(cfg);
  const manifest = await content.put(manifestBytes(cfgBlob, [tarLayer(layer)]));
  return images.put(manifest.digest, tag ? [tag] : []);
}
