import { randomBytes } from 'node:crypto';
import { failedPrecondition, isAlreadyExists, isNotFound } from '@berth/errors';
import { chainIds } from '@berth/reference';
import type { ContentStore } from './content-store';
import type { ImageRecord } from './image-store';

/** The snapshotter calls unpacking needs, shaped like the gRPC client's (see @berth/clients). */
export interface LayerSnapshots {
  stat(key: string): Promise<unknown>;
  prepare(key: string, parent: string): Promise<unknown>;
  applyLayer(key: string, blobPath: string, mediaType: string): Promise<{ diffId: string }>;
  commit(name: string, key: string): Promise<unknown>;
  remove(key: string): Promise<unknown>;
}

/** Lets a pull wait for each layer's download and report each layer's extraction. */
export interface UnpackHooks {
  /** Called before layer i is applied; resolves once its blob is in the content store. */
  before?(i: number): Promise<void>;
  /** Called after layer i is a committed snapshot (`applied` false when it already was). */
  after?(i: number, applied: boolean): void;
}

/**
 * Makes sure every layer of an image is a committed snapshot named by its chain ID, so that
 * containers can be prepared on top. Layers already unpacked (by any image) are skipped; each
 * applied layer must produce the diff ID the image config promises.
 */
export async function unpackImage(
  img: Pick<ImageRecord, 'diffIds' | 'layers'>,
  content: ContentStore,
  snaps: LayerSnapshots,
  hooks: UnpackHooks = {},
): Promise<number> {
  const chain = chainIds(img.diffIds);
  let unpacked = 0;
  for (let i = 0; i < chain.length; i++) {
    const name = chain[i]!;
    try {
      await snaps.stat(name);
      hooks.after?.(i, false);
      continue;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await hooks.before?.(i);
    const key = `extract-${randomBytes(4).toString('hex')}-${name}`;
    const layer = img.layers[i]!;
    await snaps.prepare(key, i === 0 ? '' : chain[i - 1]!);
    try {
      const { diffId } = await snaps.applyLayer(key, content.path(layer.digest), layer.mediaType);
      if (diffId !== img.diffIds[i]) {
        throw failedPrecondition(`layer ${layer.digest} unpacks to ${diffId}, but the image config says ${img.diffIds[i]}`);
      }
      await snaps.commit(name, key);
      unpacked++;
    } catch (err) {
      await snaps.remove(key).catch(() => undefined);
      // Another unpack of the same layer won the race: its snapshot is as good as ours.
      if (!isAlreadyExists(err)) throw err;
    }
    hooks.after?.(i, true);
  }
  return unpacked;
}
