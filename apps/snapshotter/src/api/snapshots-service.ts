import { Writable } from 'node:stream';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { type ContractImpl, endWithError, unaryHandler } from '@berth/grpc';
import { TarWriter } from '@berth/tar';
import { overlayChanges } from '../domain/changes';
import { naiveChanges } from '../domain/naive-diff';
import { writeNaiveDiff, writeOverlayDiff } from '../domain/write-diff';
import { snapshotterV1 } from '@berth/proto';
import type { SnapshotRecord, Snapshotter } from '../domain/snapshotter';

const KIND = {
  view: snapshotterV1.Kind.KIND_VIEW,
  active: snapshotterV1.Kind.KIND_ACTIVE,
  committed: snapshotterV1.Kind.KIND_COMMITTED,
} as const;

function info(r: SnapshotRecord): snapshotterV1.SnapshotInfo {
  return { name: r.key, parent: r.parent, kind: KIND[r.kind], labels: r.labels, createdUnixMs: r.createdUnixMs };
}

export function snapshotsService(s: Snapshotter): ContractImpl<snapshotterV1.SnapshotsServer> {
  return {
    prepare: unaryHandler((r: snapshotterV1.PrepareRequest) => ({ mounts: s.prepare(r.key, r.parent, r.labels) })),
    view: unaryHandler((r: snapshotterV1.PrepareRequest) => ({ mounts: s.view(r.key, r.parent, r.labels) })),
    mounts: unaryHandler((r: snapshotterV1.MountsRequest) => ({ mounts: s.mounts(r.key) })),
    commit: unaryHandler((r: snapshotterV1.CommitRequest) => info(s.commit(r.name, r.key, r.labels))),
    remove: unaryHandler((r: snapshotterV1.RemoveRequest) => {
      s.remove(r.key);
      return {};
    }),
    stat: unaryHandler((r: snapshotterV1.StatRequest) => info(s.stat(r.key))),
    list: unaryHandler(() => ({ snapshots: s.list().map(info) })),
    applyLayer: unaryHandler((r: snapshotterV1.ApplyLayerRequest) => s.applyLayer(r.key, r.blobPath)),
    usage: unaryHandler((r: snapshotterV1.StatRequest) => ({ size: s.usage(r.key) })),
    changes: unaryHandler((r: snapshotterV1.DiffRequest) => {
      const { upper, lowers, style } = s.diffDirs(r.key);
      return { changes: style === 'overlay' ? overlayChanges(upper, lowers, r.exclude) : naiveChanges(upper, lowers[0], r.exclude) };
    }),
    writeDiff(call: ServerWritableStream<snapshotterV1.DiffRequest, snapshotterV1.DiffChunk>) {
      let cancelled = false;
      call.once('cancelled', () => (cancelled = true));
      // Pull-driven: a write waits for the call's buffer to drain; a cancelled call stops the walk.
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          if (cancelled) return done(new Error('the client went away'));
          if (call.write({ data: chunk })) return done();
          const onDrain = () => {
            call.off('cancelled', onCancel);
            done();
          };
          const onCancel = () => {
            call.off('drain', onDrain);
            done(new Error('the client went away'));
          };
          call.once('drain', onDrain);
          call.once('cancelled', onCancel);
        },
      });
      // The writer learns of a failed write from its callback; without a listener the
      // stream's own 'error' event would take the process down.
      sink.on('error', () => undefined);
      Promise.resolve()
        .then(() => {
          const { upper, lowers, style } = s.diffDirs(call.request.key);
          const tar = new TarWriter(sink);
          return style === 'overlay' ? writeOverlayDiff(upper, call.request.exclude, tar) : writeNaiveDiff(upper, lowers[0], call.request.exclude, tar);
        })
        .then(
          () => call.end(),
          (err: unknown) => endWithError(call, err),
        );
    },
  };
}
