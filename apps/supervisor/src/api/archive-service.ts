import { posix } from 'node:path';
import { Writable } from 'node:stream';
import type { sendUnaryData, ServerReadableStream, ServerWritableStream } from '@grpc/grpc-js';
import { expandedLimitBytes } from '@berth/compression';
import { endWithError, requestMessages, toServiceError, unaryHandler } from '@berth/grpc';
import { invalidArgument } from '@berth/errors';
import type { supervisorV1 } from '@berth/proto';
import { ScopedRoot } from '@berth/rootfs';
import { TarWriter } from '@berth/tar';
import { archivePath, archiveTree, extractArchive, statPath } from '../domain/archive';
import type { Containers } from '../domain/containers';
import { INIT_EXCLUDES } from '../domain/init-paths';
import { commitContainer } from '../domain/commit';
import type { Lifecycle } from '../domain/lifecycle';
import type { ContainerRecord } from '../domain/model';
import { type Peers, unary } from '@berth/clients';
import type { ContainerRoots } from '../domain/container-root';

async function inRoot<T>(root: string, fn: (r: ScopedRoot) => Promise<T>): Promise<T> {
  const r = ScopedRoot.open(root);
  try {
    return await fn(r);
  } finally {
    r.close();
  }
}

/**
 * A Writable that forwards tar bytes as stream messages, waiting when the call's buffer is
 * full. A cancelled call fails the next or pending write, so the archiver stops and its
 * temporary mounts are released instead of waiting for a drain that never comes. The tar
 * writer must end it (its default) and the call may end only after: chunks can still sit in
 * the Writable's own buffer when the last add() returns.
 */
function chunkSink(call: ServerWritableStream<unknown, supervisorV1.ArchiveChunk>): Writable {
  let cancelled = false;
  const gone = () => new Error('the client went away');
  call.once('cancelled', () => (cancelled = true));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (cancelled) return done(gone());
      if (call.write({ stat: undefined, data: chunk })) return done();
      const onDrain = () => {
        call.off('cancelled', onCancel);
        done();
      };
      const onCancel = () => {
        call.off('drain', onDrain);
        done(gone());
      };
      call.once('drain', onDrain);
      call.once('cancelled', onCancel);
    },
  });
  // The tar writer learns of a failed write from its callback; without a listener the
  // stream's own 'error' event (a client that went away) would take the process down.
  sink.on('error', () => undefined);
  return sink;
}

/** Whether a path lies on one of the container's writable volumes, binds or tmpfs mounts (Docker's checkIfPathIsInAVolume). */
function onWritableMount(rec: ContainerRecord, path: string): boolean {
  const p = posix.normalize(`/${path}`);
  return (rec.mounts ?? []).some((m) => m.RW && (p === m.Destination || p.startsWith(`${m.Destination}/`)));
}

/** daemon.json's max-upload-expanded-bytes (0: the free space of `dir` less a reserve). */
export interface UploadLimits {
  maxExpandedBytes: number;
  dir: string;
}

/** The archive API of the Containers contract: stat, get and put of paths, export, changes. */
export function archiveService(containers: Containers, peers: Peers, life: Lifecycle, roots: ContainerRoots, uploads: UploadLimits = { maxExpandedBytes: 0, dir: '/' }) {
  return {
    statContainerPath: unaryHandler(async (req: supervisorV1.ContainerPathRequest) => {
      const rec = containers.get(req.reference);
      return roots.with(rec, true, (root) => inRoot(root, async (r) => statPath(r, req.path, req.reference)));
    }),
    getArchive(call: ServerWritableStream<supervisorV1.ContainerPathRequest, supervisorV1.ArchiveChunk>) {
      const { reference, path } = call.request;
      Promise.resolve()
        .then(() => {
          const rec = containers.get(reference);
          return roots.with(rec, true, (root) =>
            inRoot(root, (r) => archivePath(r, path, reference, new TarWriter(chunkSink(call)), (stat) => call.write({ stat, data: Buffer.alloc(0) }))),
          );
        })
        .then(
          () => call.end(),
          (err: unknown) => endWithError(call, err),
        );
    },
    putArchive(call: ServerReadableStream<supervisorV1.PutArchiveRequest, supervisorV1.PutArchiveResponse>, callback: sendUnaryData<supervisorV1.PutArchiveResponse>) {
      const it = requestMessages<supervisorV1.PutArchiveRequest>(call);
      const run = async () => {
        const first = await it.next();
        if (first.done) throw invalidArgument('PutArchive received no messages');
        const head = first.value;
        const rec = containers.get(head.reference);
        if (rec.hostConfig.ReadonlyRootfs && !onWritableMount(rec, head.path)) throw invalidArgument('container rootfs is marked read-only');
        async function* bytes(): AsyncGenerator<Uint8Array> {
          if (head.data.length) yield head.data;
          for (;;) {
            const n = await it.next();
            if (n.done) return;
            if (n.value.data.length) yield n.value.data;
          }
        }
        await roots.with(rec, true, (root) =>
          inRoot(root, async (r) =>
            extractArchive(r, head.path, head.reference, bytes(), {
              noOverwriteDirNonDir: head.noOverwriteDirNonDir,
              copyUidGid: head.copyUidGid,
              maxExpandedBytes: await expandedLimitBytes(uploads.maxExpandedBytes, uploads.dir),
            }),
          ),
        );
      };
      run().then(
        () => callback(null, {}),
        (err: unknown) => {
          call.destroy();
          callback(toServiceError(err));
        },
      );
    },
    exportContainer(call: ServerWritableStream<supervisorV1.GetContainerRequest, supervisorV1.ArchiveChunk>) {
      Promise.resolve()
        .then(() => {
          const rec = containers.get(call.request.reference);
          return roots.with(rec, false, (root) => inRoot(root, (r) => archiveTree(r, new TarWriter(chunkSink(call)))));
        })
        .then(
          () => call.end(),
          (err: unknown) => endWithError(call, err),
        );
    },
    containerChanges: unaryHandler(async (req: supervisorV1.GetContainerRequest) => {
      const rec = containers.get(req.reference);
      const snaps = peers.snapshots;
      const out = await unary('snapshotter', snaps.changes.bind(snaps), {
        key: rec.rootfsKey,
        exclude: [...INIT_EXCLUDES, ...(rec.mounts ?? []).map((m) => m.Destination)],
      });
      return { changes: out.changes };
    }),
    commitContainer: unaryHandler(async (req: supervisorV1.CommitContainerRequest) => {
      const rec = containers.get(req.reference);
      let overrides: Record<string, unknown> = {};
      const text = Buffer.from(req.configJson).toString('utf8').trim();
      if (text && text !== 'null') {
        try {
          overrides = JSON.parse(text) as Record<string, unknown>;
        } catch (err) {
          throw invalidArgument(`invalid JSON in request body: ${(err as Error).message}`);
        }
        if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw invalidArgument('the commit body must be a container config object');
      }
      const id = await commitContainer(peers, life, rec, { tag: req.tag, comment: req.comment, author: req.author, changes: req.changes, pause: req.pause, overrides, replaceConfig: req.replaceConfig, createdBy: req.createdBy });
      life.event('commit', rec, { comment: req.comment, imageID: id, imageRef: req.tag });
      return { id };
    }),
  };
}
