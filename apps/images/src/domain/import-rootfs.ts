import { randomBytes } from 'node:crypto';
import { isAlreadyExists } from '@berth/errors';
import { familiarName, parseReference } from '@berth/reference';
import { applyChanges } from './changes';
import type { ContentStore } from './content-store';
import type { ImageRecord, ImageStore } from './image-store';
import type { LayerSnapshots } from './unpack';

/**
 * `docker import`: one layer from a rootfs tarball. The layer is unpacked first, because its
 * diff ID (which the config must name) is only known once the tarball has been read.
 */
export async function importRootfs(
  source: AsyncIterable<Uint8Array>,
  opts: { tag: string; changes: string[]; message: string },
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
): Promise<ImageRecord> {
  // The layer's blob and snapshot are held against garbage collection until the image names them.
  return content.leases.during((hold) => importHeld(source, opts, content, images, snaps, hold));
}

async function importHeld(
  source: AsyncIterable<Uint8Array>,
  opts: { tag: string; changes: string[]; message: string },
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
  hold: (names: string[]) => void,
): Promise<ImageRecord> {
  const config = applyChanges({}, opts.changes);
  const tag = opts.tag ? familiarName(parseReference(opts.tag)) : '';
  const w = await content.writerUnverified();
  try {
    for await (const c of source) await w.write(c);
  } catch (err) {
    await w.abort();
    throw err;
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
  const gz = (await isGzip(content, layer.digest)) ? '+gzip' : '';
  const manifest = await content.put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgBlob.digest, size: cfgBlob.size },
        layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar${gz}`, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  return images.put(manifest.digest, tag ? [tag] : []);
}

async function isGzip(content: ContentStore, digest: string): Promise<boolean> {
  for await (const c of content.read(digest)) {
    const b = c as Buffer;
    return b[0] === 0x1f && b[1] === 0x8b;
  }
  return false;
}
