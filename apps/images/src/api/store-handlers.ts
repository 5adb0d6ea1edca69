import { PassThrough } from 'node:stream';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { endWithError, unaryHandler } from '@berth/grpc';
import { invalidArgument } from '@berth/errors';
import type { imagesV1 } from '@berth/proto';
import type { ContentStore } from '../domain/content-store';
import { collectGarbage, type SnapshotLister } from '../domain/garbage';
import type { ImageStore } from '../domain/image-store';
import type { Leases } from '../domain/leases';
import { saveImages } from '../domain/save-archive';

const CHUNK_BYTES = 1 << 20;

/** The store-keeping half of the Images contract: save archives and garbage collection. */
export function storeHandlers(
  images: ImageStore,
  content: ContentStore,
  leases: Leases,
  snaps: SnapshotLister,
): Pick<imagesV1.ImagesServer, 'saveImages' | 'collectGarbage'> {
  return {
    saveImages(call: ServerWritableStream<imagesV1.SaveImagesRequest, imagesV1.BlobChunk>) {
      const refs = call.request.references;
      if (refs.length === 0) {
        endWithError(call, invalidArgument('no images to save'));
        return;
      }
      // Hold what is being written so a collection meanwhile cannot pull blobs from under it.
      const sink = new PassThrough({ highWaterMark: CHUNK_BYTES });
      let offset = 0;
      let failed = false;
      sink.on('data', (data: Buffer) => {
        const ok = call.write({ offset, data });
        offset += data.length;
        if (!ok) {
          sink.pause();
          call.once('drain', () => sink.resume());
        }
      });
      sink.on('end', () => {
        if (!failed) call.end();
      });
      call.on('cancelled', () => sink.destroy());
      let release = () => undefined as void;
      Promise.resolve()
        .then(() => {
          const held = refs.map((r) => images.get(r)).flatMap((i) => [i.id, i.manifestDigest, ...i.layers.map((l) => l.digest)]);
          release = leases.hold(held);
          return saveImages(images, content, refs, sink);
        })
        .catch((err: unknown) => {
          failed = true;
          sink.destroy();
          endWithError(call, err);
        })
        .finally(() => release());
    },
    collectGarbage: unaryHandler(async () => collectGarbage(content, images, leases, snaps)),
  };
}
