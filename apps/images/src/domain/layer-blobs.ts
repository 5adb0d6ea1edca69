import { createHash } from 'node:crypto';
import { failedPrecondition } from '@berth/errors';
import type { ContentStore } from './content-store';
import type { Descriptor, ImageRecord, ImageStore } from './image-store';
import { manifestBytes, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST, tarLayer } from './oci-media';

const GZIP_TYPES = new Set(['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);

/** The manifest to hand out for an image (push, save): its bytes, digest and media type. */
export interface ManifestToShip {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  layers: Descriptor[];
  configDigest: string;
  /** False when layers were swapped for other blobs of the same content (a new manifest). */
  original: boolean;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * An image's manifest with every layer blob present in the content store. A layer that was
 * "Already exists" at pull time has no blob of its own; another image's blob with the same diff
 * ID (the same content, compressed or not) stands in, and the manifest is rewritten as an OCI
 * manifest around the same config (same image ID, new manifest digest), as Docker does when it
 * re-compresses a layer to push it.
 */
export async function manifestToShip(img: ImageRecord, images: ImageStore, content: ContentStore): Promise<ManifestToShip> {
  const bytes = await readAll(content.read(img.manifestDigest));
  const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; config: Descriptor; layers: Descriptor[] };
  const mediaType = doc.mediaType ?? OCI_MANIFEST;
  if (img.layers.every((l) => content.has(l.digest))) {
    return { bytes, digest: img.manifestDigest, mediaType, layers: img.layers, configDigest: img.id, original: true };
  }
  const byDiffId = new Map<string, Descriptor>();
  for (const other of images.list()) {
    other.diffIds.forEach((d, i) => {
      const l = other.layers[i];
      if (l && content.has(l.digest) && !byDiffId.has(d)) byDiffId.set(d, l);
    });
  }
  const layers = img.layers.map((l, i) => {
    if (content.has(l.digest)) return l;
    const sub = byDiffId.get(img.diffIds[i]!);
    if (sub) return sub;
    // An uncompressed layer's digest is its diff ID: the blob may be stored under that name.
    if (content.has(img.diffIds[i]!)) return tarLayer({ digest: img.diffIds[i]!, size: content.stat(img.diffIds[i]!).size });
    throw failedPrecondition(`layer ${img.diffIds[i]} of image ${img.id.slice(7, 19)} has no blob here (it was already unpacked when the image was pulled); pull or load it again to export it`);
  });
  const ociLayers = layers.map((l) => ({ mediaType: GZIP_TYPES.has(l.mediaType) ? OCI_LAYER_GZIP : OCI_LAYER, digest: l.digest, size: l.size }));
  const out = manifestBytes(doc.config, ociLayers);
  return { bytes: out, digest: `sha256:${createHash('sha256').update(out).digest('hex')}`, mediaType: OCI_MANIFEST, layers: ociLayers, configDigest: img.id, original: false };
}
