import { readFileSync } from 'node:fs';
import type { ServerDuplexStream, ServerReadableStream, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { expandedLimitBytes } from '@berth/compression';
import { type ContractImpl, endWithError, requestMessages, toServiceError, unaryHandler } from '@berth/grpc';
import { invalidArgument, messageOf } from '@berth/errors';
import type { imagesV1 } from '@berth/proto';
import { familiarName, parseReference } from '@berth/reference';
import type { BlobWriter, ContentStore } from '../domain/content-store';
import type { ImageRecord, ImageStore } from '../domain/image-store';
import { loadArchive } from '../domain/load-archive';
import { importRootfs } from '../domain/import-rootfs';
import { commitImage } from '../domain/commit-image';
import type { LayerSnapshots } from '../domain/unpack';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function toProto(r: ImageRecord, content: ContentStore): Promise<imagesV1.Image> {
  return {
    id: r.id,
    manifestDigest: r.manifestDigest,
    repoTags: r.repoTags.map((t) => familiarName(parseReference(t))),
    repoDigests: r.repoDigests.map((t) => familiarName(parseReference(t))),
    diffIds: r.diffIds,
    size: r.layers.reduce((n, l) => n + l.size, 0),
    createdUnixMs: r.createdUnixMs,
    // A config is a few KiB: one read, not a stream's open, reads and close (and its 1 MiB buffer) on every create.
    configJson: readFileSync(content.stat(r.id).path),
    layers: r.layers,
    parent: r.parent ?? '',
  };
}

export function imagesService(
  images: ImageStore,
  content: ContentStore,
  unpack: (img: ImageRecord) => Promise<unknown>,
  event: (action: string, id: string, name: string) => void = () => undefined,
  snaps?: LayerSnapshots,
  /** daemon.json's max-upload-expanded-bytes (0: the content store's free space less a reserve). */
  maxUploadExpandedBytes = 0,
): Omit<ContractImpl<imagesV1.ImagesServer>, 'pullImage' | 'pushImage' | 'checkAuth' | 'saveImages' | 'collectGarbage'> {
  const uploadLimit = () => expandedLimitBytes(maxUploadExpandedBytes, content.root);
  return {
    importRootfs(call: ServerReadableStream<imagesV1.ImportRootfsRequest, imagesV1.Image>, callback: sendUnaryData<imagesV1.Image>) {
      const it = requestMessages<imagesV1.ImportRootfsRequest>(call);
      void (async () => {
        const first = await it.next();
        if (first.done) throw invalidArgument('ImportRootfs received no messages');
        const opts = first.value;
        const data = (async function* () {
          if (opts.data.length) yield Buffer.from(opts.data);
          for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value.data);
        })();
        if (!snaps) throw invalidArgument('import needs the snapshotter');
        const maxExpandedBytes = await uploadLimit();
        const img = await importRootfs(data, { tag: opts.tag, changes: opts.changes, message: opts.message, maxExpandedBytes }, content, images, snaps);
        event('import', img.id, opts.tag || img.id);
        return toProto(img, content);
      })().then(
        (img) => callback(null, img),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
    commitImage(call: ServerReadableStream<imagesV1.CommitImageRequest, imagesV1.Image>, callback: sendUnaryData<imagesV1.Image>) {
      const it = requestMessages<imagesV1.CommitImageRequest>(call);
      void (async () => {
        const first = await it.next();
        if (first.done) throw invalidArgument('CommitImage received no messages');
        const o = first.value;
        const data = (async function* () {
          if (o.data.length) yield Buffer.from(o.data);
          for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value.data);
        })();
        if (!snaps) throw invalidArgument('commit needs the snapshotter');
        let config: Record<string, unknown>;
        try {
          config = JSON.parse(Buffer.from(o.configJson).toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          throw invalidArgument('CommitImage: config_json is not JSON');
        }
        const img = await commitImage(
          data,
          { parent: o.parent, config, changes: o.changes, comment: o.comment, author: o.author, tag: o.tag, containerId: o.containerId, createdBy: o.createdBy, emptyLayer: o.emptyLayer, reuse: o.reuseFrom ? { from: o.reuseFrom, historyIndex: o.reuseHistoryIndex } : undefined },
          content,
          images,
          snaps,
        );
        // Docker reports a commit as a container event (the supervisor sends it); a tag is an image event.
        if (o.tag) event('tag', img.id, o.tag);
        return toProto(img, content);
      })().then(
        (img) => callback(null, img),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
    loadArchive(call: ServerDuplexStream<imagesV1.LoadArchiveRequest, imagesV1.LoadArchiveResponse>) {
      const it = requestMessages<imagesV1.LoadArchiveRequest>(call);
      const chunks = (async function* (): AsyncGenerator<Buffer> {
        for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value.data);
      })();
      uploadLimit()
        .then((maxExpandedBytes) => loadArchive(chunks, content, images, unpack, (line) => call.write({ stream: line }), { maxExpandedBytes }))
        .then(
          (ids) => {
            for (const id of ids) event('load', id, images.get(id).repoTags.map((t) => familiarName(parseReference(t)))[0] ?? id);
            call.end();
          },
          (err: unknown) => endWithError(call, err),
        );
    },
    imageHistory: unaryHandler(async (req: imagesV1.GetImageRequest) => {
      const img = images.get(req.reference);
      const cfg = JSON.parse((await readAll(content.read(img.id))).toString('utf8')) as {
        history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
      };
      const history = cfg.history?.length ? cfg.history : img.layers.map(() => ({}) as { created?: string; created_by?: string; comment?: string; empty_layer?: boolean });
      let layer = 0;
      const entries = history.map((h) => ({
        id: '<missing>',
        createdUnix: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        createdBy: h.created_by ?? '',
        tags: [] as string[],
        size: h.empty_layer ? 0 : (img.layers[layer++]?.size ?? 0),
        comment: h.comment ?? '',
      }));
      entries.reverse();
      if (entries[0]) {
        entries[0].id = img.id;
        entries[0].tags = img.repoTags.map((t) => familiarName(parseReference(t)));
      }
      return { entries };
    }),
    listImages: unaryHandler(async () => ({ images: await Promise.all(images.list().map((r) => toProto(r, content))) })),
    getImage: unaryHandler((req: imagesV1.GetImageRequest) => toProto(images.get(req.reference), content)),
    putImage: unaryHandler(async (req: imagesV1.PutImageRequest) => toProto(await images.put(req.manifestDigest, req.tags), content)),
    tagImage: unaryHandler((req: imagesV1.TagImageRequest) => {
      const img = images.tag(req.source, req.target);
      event('tag', img.id, familiarName(parseReference(req.target)));
      return toProto(img, content);
    }),
    deleteImage: unaryHandler((req: imagesV1.DeleteImageRequest) => {
      const out = images.delete(req.reference, req.force, !req.noPrune, new Set(req.inUse));
      for (const u of out.untagged) event('untag', u, u);
      for (const d of out.deleted) event('delete', d, d);
      return out;
    }),
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
        endWithError(call, err);
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
      stream.on('error', (err) => endWithError(call, err));
      call.on('cancelled', () => (stream as unknown as { destroy(): void }).destroy());
    },
  };
}
