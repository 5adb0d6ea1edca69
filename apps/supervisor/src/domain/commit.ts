import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { type Peers } from '@berth/clients';
import { invalidArgument, messageOf } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import type { imagesV1, snapshotterV1 } from '@berth/proto';
import type { Lifecycle } from './lifecycle';
import type { ContainerRecord } from './model';
import { INIT_EXCLUDES } from './init-paths';

export interface CommitOptions {
  tag: string;
  comment: string;
  author: string;
  changes: string[];
  pause: boolean;
  /** ContainerConfig fields from the request body that override the container's. */
  overrides: Record<string, unknown>;
  /** `overrides` is the whole image config (a builder step), empty fields included. */
  replaceConfig?: boolean;
  /** History text instead of the container's command line. */
  createdBy?: string;
}

/** The fields of a container's config that an image config carries (Docker's commit keeps these). */
function imageConfig(rec: ContainerRecord, overrides: Record<string, unknown>): Record<string, unknown> {
  const c = rec.config;
  const base: Record<string, unknown> = {
    Hostname: c.Hostname, Domainname: c.Domainname, User: c.User, AttachStdin: false, AttachStdout: false, AttachStderr: false,
    ExposedPorts: c.ExposedPorts, Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce, Env: c.Env, Cmd: c.Cmd,
    Image: rec.imageId, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, Labels: c.Labels,
    StopSignal: c.StopSignal,
  };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) base[k] = v;
  return base;
}

/**
 * `docker commit`: the snapshotter writes the container's changes as a layer, which streams
 * straight into the images service's CommitImage; nothing is buffered here beyond one chunk.
 */
export async function commitContainer(peers: Peers, life: Lifecycle, rec: ContainerRecord, o: CommitOptions): Promise<string> {
  const pauseHere = o.pause && rec.state.Running && !rec.state.Paused;
  if (pauseHere) await life.pause(rec.id, true);
  try {
    const snaps = peers.snapshots;
    const images = peers.images;
    const diff: ClientReadableStream<snapshotterV1.DiffChunk> = snaps.writeDiff({
      key: rec.rootfsKey,
      exclude: [...INIT_EXCLUDES, ...(rec.mounts ?? []).map((m) => m.Destination)],
    });
    return await new Promise<string>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        diff.cancel();
        reject(err);
      };
      const up = images.commitImage((err: ServiceError | null, img?: imagesV1.Image) => {
        if (err) fail(fromServiceError(err, 'images'));
        else if (!failed) resolve(img!.id);
      });
      up.write({
        parent: rec.imageId,
        configJson: Buffer.from(JSON.stringify(o.replaceConfig ? o.overrides : imageConfig(rec, o.overrides))),
        changes: o.changes,
        comment: o.comment,
        author: o.author,
        tag: o.tag,
        containerId: rec.id,
        createdBy: o.createdBy || [rec.path, ...rec.args].join(' '),
        data: Buffer.alloc(0),
        emptyLayer: false,
        reuseFrom: '',
        reuseHistoryIndex: 0,
      });
      const empty = { parent: '', configJson: Buffer.alloc(0), changes: [], comment: '', author: '', tag: '', containerId: '', createdBy: '', emptyLayer: false, reuseFrom: '', reuseHistoryIndex: 0 };
      diff.on('data', (m: snapshotterV1.DiffChunk) => {
        if (!up.write({ ...empty, data: m.data })) {
          diff.pause();
          up.once('drain', () => diff.resume());
        }
      });
      diff.on('error', (err: ServiceError) => {
        up.cancel();
        fail(fromServiceError(err, 'snapshotter'));
      });
      // Close the upload only when every chunk was read ('end') and the diff was whole (OK
      // status); the status can arrive while paused chunks are still buffered.
      let ended = false;
      let ok = false;
      const finish = () => {
        if (ended && ok) up.end();
      };
      diff.on('end', () => {
        ended = true;
        finish();
      });
      diff.on('status', (st: { code: number }) => {
        ok = st.code === 0;
        finish();
      });
    });
  } finally {
    if (pauseHere) await life.pause(rec.id, false).catch((err: unknown) => {
      throw invalidArgument(`committed, but could not unpause the container: ${messageOf(err)}`);
    });
  }
}
