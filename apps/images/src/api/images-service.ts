import type { ServerReadableStream, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { toServiceError, unaryHandler } from '@berth/grpc';
import { invalidArgument } from '@berth/errors';
import type { imagesV1 } from '@berth/proto';
import { familiarName, parseReference } from '@berth/reference';
import type { BlobWriter, ContentStore } from '../domain/content-store';
import type { ImageRecord, ImageStore } from '../domain/image-store';

async function toProto(r: ImageRecord, content: ContentStore): Promise<imagesV1.Image> {
  const chunks: Buffer[] = [];
  for await (const c of content.read(r.id)) chunks.push(c as Buffer);
  return {
    id: r.id,
    manifestDigest: r.manifestDigest,
    repoTags: r.repoTags.map((t) => familiarName(parseReference(t))),
    repoDigests: r.repoDigests.map((t) => familiarName(parseReference(t))),
    diffIds: r.diffIds,
    size: r.layers.reduce((n, l) => n + l.size, 0),
    createdUnixMs: r.createdUnixMs,
    configJson: Buffer.concat(chunks),
    layers: r.layers,
  };
}

export function imagesService(images: ImageStore, content: ContentStore): Omit<imagesV1.ImagesServer, 'info'> {
  return {
    listImages: unaryHandler(async () => ({ images: await Promise.all(images.list().map((r) => toProto(r, content))) })),
    getImage: unaryHandler((req: imagesV1.GetImageRequest) => toProto(images.get(req.reference), content)),
    putImage: unaryHandler(async (req: imagesV1.PutImageRequest) => toProto(await images.put(req.manifestDigest, req.tags), content)),
    tagImage: unaryHandler((req: imagesV1.TagImageRequest) => toProto(images.tag(req.source, req.target), content)),
    deleteImage: unaryHandler((req: imagesV1.DeleteImageRequest) => images.delete(req.reference, req.force)),
  };
}

export function contentService(content: ContentStore): imagesV1.ContentServer {
  return {
    statBlob: unaryHandler((req: imagesV1.StatBlobRequest) => {
      const info = content.stat(req.digest);
      return { ...info, path: req.wantPath ? info.path : '' };
    }),
    writeBlob(call: ServerReadableStream<imagesV1.WriteBlobRequest, imagesV1.BlobInfo>, callback: sendUnaryData<imagesV1.BlobInfo>) {
      let writer: Promise<BlobWriter> | undefined;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        void writer?.then((w) => w.abort()).catch(() => undefined);
        callback(toServiceError(err));
      };
      // Pull-driven: pause the call while a chunk is written so a fast sender cannot fill memory.
      call.on('data', (msg: imagesV1.WriteBlobRequest) => {
        if (failed) return;
        if (!writer) {
          if (!msg.expectedDigest) return fail(invalidArgument('the first WriteBlob message must carry the expected digest'));
          writer = content.writer(msg.expectedDigest, msg.expectedSize > 0 ? msg.expectedSize : -1);
        }
        call.pause();
        writer
          .then((w) => (msg.data.length ? w.write(msg.data) : undefined))
          .then(() => call.resume(), fail);
      });
      call.on('end', () => {
        if (failed) return;
        if (!writer) return fail(invalidArgument('WriteBlob received no messages'));
        writer.then((w) => w.commit()).then((info) => callback(null, { ...info, path: '' }), fail);
      });
      call.on('error', fail);
      call.on('cancelled', () => fail(new Error('cancelled')));
    },
    readBlob(call: ServerWritableStream<imagesV1.ReadBlobRequest, imagesV1.BlobChunk>) {
      let stream: NodeJS.ReadableStream;
      try {
        stream = content.read(call.request.digest, Number(call.request.offset));
      } catch (err) {
        call.destroy(Object.assign(new Error((err as Error).message), toServiceError(err)));
        return;
      }
      let offset = Number(call.request.offset);
      stream.on('data', (data: Buffer) => {
        const ok = call.write({ offset, data });
        offset += data.length;
        if (!ok) {
          stream.pause();
          call.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => call.end());
      stream.on('error', (err) => call.destroy(err));
      call.on('cancelled', () => (stream as unknown as { destroy(): void }).destroy());
    },
  };
}
