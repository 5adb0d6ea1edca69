/**
 * The OCI media types the image service writes, and the one way it writes a manifest: every image
 * Berth makes itself (commit, import, load, an export for push) is an OCI image manifest.
 */
import type { Descriptor } from './image-store';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** An uncompressed layer's descriptor. */
export function tarLayer(blob: { digest: string; size: number }): Descriptor {
  return { mediaType: OCI_LAYER, digest: blob.digest, size: blob.size };
}

/** The manifest's bytes for a config blob and its layers, as stored and as served. */
export function manifestBytes(config: { digest: string; size: number }, layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size }, layers }));
}
