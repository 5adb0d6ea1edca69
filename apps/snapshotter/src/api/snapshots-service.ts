import { type ContractImpl, unaryHandler } from '@berth/grpc';
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
  };
}
