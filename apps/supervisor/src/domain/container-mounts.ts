import { mkdirSync } from 'node:fs';
import { type Peers, unary } from '@berth/clients';
import { messageOf, notImplemented } from '@berth/errors';
import type { Logger } from '@berth/logging';
import type { Containers } from './containers';
import type { CreateBody } from './create-config';
import type { HostConfig } from './model';
import { type ApiMount, type MountPoint, parseVolumesFrom, resolveMounts } from './mounts';

/**
 * Makes a new container's mounts real: volumes are created (anonymous ones with generated
 * names) and referenced for the container at the snapshotter, which also copies the image's
 * data into a new empty volume; missing `-v` bind sources are created. The caller releases
 * the references if the create fails later.
 */
export async function setupMounts(
  peers: Peers,
  containers: Containers,
  id: string,
  body: CreateBody,
  hostConfig: HostConfig,
  imageVolumes: Record<string, object> | null | undefined,
): Promise<MountPoint[]> {
  const inherited: MountPoint[] = [];
  for (const spec of (hostConfig.VolumesFrom as string[] | null | undefined) ?? []) {
    const { ref, rw } = parseVolumesFrom(spec);
    const from = containers.get(ref);
    for (const m of from.mounts ?? []) {
      if (m.Type === 'tmpfs') continue;
      inherited.push({ ...m, RW: rw === undefined ? m.RW : rw && m.RW, copyData: false, anonymous: false, createSource: false });
    }
  }
  const points = resolveMounts({
    binds: (hostConfig.Binds as string[] | null | undefined) ?? [],
    mounts: (hostConfig.Mounts as ApiMount[] | null | undefined) ?? [],
    tmpfs: (hostConfig.Tmpfs as Record<string, string> | null | undefined) ?? {},
    anonymous: [...Object.keys(body.Volumes ?? {}), ...Object.keys(imageVolumes ?? {})],
    inherited,
  });
  const vols = peers.volumes;
  for (const m of points) {
    if (m.Type === 'bind' && m.createSource) mkdirSync(m.Source, { recursive: true });
    if (m.Type !== 'volume') continue;
    if (m.Driver && m.Driver !== 'local') throw notImplemented(`volume driver ${m.Driver} is not supported by Berth; only local volumes are`);
    const v = await unary('snapshotter', vols.createVolume.bind(vols), {
      name: m.Name ?? '',
      driver: 'local',
      labels: m.volumeLabels ?? {},
      driverOpts: m.volumeOptions ?? {},
      anonymous: m.anonymous ?? false,
    }, { idempotent: false });
    m.Name = v.name;
    m.Source = v.mountpoint;
    await unary('snapshotter', vols.acquireVolume.bind(vols), {
      name: v.name,
      containerId: id,
      copyFrom: m.copyData ? id : '',
      copyPath: m.copyData ? m.Destination : '',
    }, { deadlineMs: 300_000 });
  }
  return points.map(({ copyData: _c, createSource: _s, volumeLabels: _l, volumeOptions: _o, ...rest }) => rest);
}

/** Drops the container's volume references; `removeAnonymous` is `docker rm -v` (and --rm). */
export async function releaseMounts(peers: Peers, id: string, removeAnonymous: boolean, logger: Logger): Promise<void> {
  const vols = peers.volumes;
  try {
    await unary('snapshotter', vols.releaseContainer.bind(vols), { containerId: id, removeAnonymous }, { deadlineMs: 120_000 });
  } catch (err) {
    // A reference left behind would keep its volumes "in use" forever: fail, and let the
    // removal be finished later (a record in "removing" is retried at start-up).
    logger.warn({ id, err: messageOf(err) }, 'releasing volumes failed');
    throw err;
  }
}
