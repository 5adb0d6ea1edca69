import { Router } from 'express';
import { unary } from '@berth/clients';
import type { Backends } from '../domain/backends';
import { volumeJson } from './volume-routes';

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Adds Docker's SizeRw / SizeRootFs to container summaries (`docker ps -s`). */
export async function withSizes(b: Backends, rows: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const snaps = b.peers.snapshots;
  const images = new Map((await b.listImages()).map((i) => [i.id, i.size]));
  return Promise.all(
    rows.map(async (row) => {
      const usage = await unary('snapshotter', snaps.usage.bind(snaps), { key: String(row.Id) }).catch(() => ({ size: 0 }));
      return { ...row, SizeRw: usage.size, SizeRootFs: usage.size + (images.get(String(row.ImageID)) ?? 0) };
    }),
  );
}

/** `GET /system/df`: images, containers (with sizes), volumes (with usage); no build cache. */
export function diskUsageRoutes(b: Backends): Router {
  const r = Router();
  r.get('/system/df', async (_req, res) => {
    const vols = b.peers.volumes;
    const [images, containers, volumes] = await Promise.all([
      b.listImages(),
      b.listContainers(true),
      unary('snapshotter', vols.listVolumes.bind(vols), { filtersJson: '', withSize: true }),
    ]);
    const summaries = await withSizes(b, containers.map((c) => JSON.parse(Buffer.from(c.summaryJson).toString()) as Record<string, unknown>));
    const layers = new Map<string, number>();
    for (const i of images) for (const l of i.layers) layers.set(l.digest, l.size);
    res.json({
      LayersSize: [...layers.values()].reduce((n, s) => n + s, 0),
      Images: images.map((i) => ({
        Id: i.id,
        ParentId: '',
        RepoTags: i.repoTags,
        RepoDigests: i.repoDigests,
        Created: seconds(i.createdUnixMs),
        Size: i.size,
        SharedSize: -1,
        Labels: {},
        Containers: containers.filter((c) => c.imageId === i.id).length,
      })),
      Containers: summaries,
      Volumes: volumes.volumes.map((v) => volumeJson(v, true)),
      BuildCache: [],
    });
  });
  return r;
}
