import type { ServiceError } from '@grpc/grpc-js';
import { Router, type Request, type Response } from 'express';
import { unary } from '@berth/clients';
import { HTTP_STATUS, invalidArgument, isConflict, isNotFound, kindOf, messageOf } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';
import { isDangling, labelsOf, matchLabels, parseFilters, untilMs } from '../domain/image-filters';
import { volumesWithUsage, withSizes } from './disk-usage-routes';

const PRUNE_KEYS = new Set(['dangling', 'until', 'label']);

/** Streams a `docker save` archive; an error before the first byte is an HTTP error. */
function save(b: Backends, references: string[], res: Response): void {
  const c = b.peers.images;
  const call = c.saveImages({ references });
  let started = false;
  res.on('close', () => call.cancel());
  call.on('data', (m: imagesV1.BlobChunk) => {
    if (!started) {
      started = true;
      res.status(200).setHeader('Content-Type', 'application/x-tar');
    }
    if (!res.write(m.data)) {
      call.pause();
      res.once('drain', () => call.resume());
    }
  });
  call.on('end', () => res.end());
  call.on('error', (err: ServiceError) => {
    const e = fromServiceError(err, 'images');
    if (!started && !res.headersSent) {
      res.status(HTTP_STATUS[kindOf(e)]).json({ message: messageOf(e) });
      return;
    }
    // Mid-archive: all that can be done is to cut it short.
    res.destroy();
  });
}

async function collect(b: Backends): Promise<imagesV1.CollectGarbageResponse> {
  const c = b.peers.images;
  return unary('images', c.collectGarbage.bind(c), {}, { deadlineMs: 10 * 60_000 });
}

/** save, prune, system df: the endpoints that look after the image store as a whole. */
export function imageStoreRoutes(b: Backends): Router {
  const r = Router();
  const images = () => b.peers.images;

  r.get('/images/get', (req: Request, res: Response) => {
    const names = ([] as unknown[]).concat(req.query.names ?? []).map(String).filter(Boolean);
    if (names.length === 0) throw invalidArgument('no images given to save');
    save(b, names, res);
  });
  r.get(/^\/images\/(.+?)\/get$/, (req: Request, res: Response) => {
    save(b, [decodeURIComponent(String((req.params as Record<string, string>)[0] ?? ''))], res);
  });

  r.post('/images/prune', async (req, res) => {
    const filters = parseFilters(req.query.filters);
    for (const k of Object.keys(filters)) if (!PRUNE_KEYS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
    const danglingOnly = !(filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const until = (filters.until ?? []).map((u) => untilMs(u));
    const [list, containers] = await Promise.all([b.listImages(), b.listContainers(true)]);
    const used = new Set(containers.map((c) => c.imageId));
    // Dangling prune starts from the heads (images nothing is built on); their untagged parents go with them.
    const parents = new Set(list.map((i) => i.parent).filter(Boolean));
    const victims = list.filter(
      (i) =>
        !used.has(i.id) &&
        !(danglingOnly && parents.has(i.id)) &&
        (!danglingOnly || isDangling(i)) &&
        until.every((u) => i.createdUnixMs < u) &&
        matchLabels(labelsOf(i), filters.label ?? []),
    );
    // Children first, so a parent is free by the time its turn comes.
    const byId = new Map(list.map((i) => [i.id, i]));
    const depth = (i: imagesV1.Image) => {
      let n = 0;
      for (let p = i.parent; p && n < 1000; p = byId.get(p)?.parent ?? '') n++;
      return n;
    };
    victims.sort((a, b) => depth(b) - depth(a));
    const deleted: Record<string, string>[] = [];
    for (const v of victims) {
      const out = await unary('images', images().deleteImage.bind(images()), { reference: v.id, force: true, noPrune: false, inUse: [...used] }, { idempotent: false }).catch(
        (err: unknown) => {
          // A parent an earlier victim pruned is gone already; one still built on stays.
          if (isNotFound(err) || isConflict(err)) return { untagged: [], deleted: [] };
          throw err;
        },
      );
      deleted.push(...out.untagged.map((u) => ({ Untagged: u })), ...out.deleted.map((d) => ({ Deleted: d })));
    }
    const gc = await collect(b);
    res.json({ ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: Number(gc.bytesFreed) });
  });

  r.get('/system/df', async (_req, res) => {
    const [list, containers] = await Promise.all([b.listImages(), b.listContainers(true)]);
    const uses = new Map<string, number>();
    for (const c of containers) uses.set(c.imageId, (uses.get(c.imageId) ?? 0) + 1);
    // A layer (by diff ID) counted once however many images share it.
    const layerSize = new Map<string, number>();
    const layerImages = new Map<string, number>();
    for (const i of list) {
      i.diffIds.forEach((d, n) => {
        layerSize.set(d, Number(i.layers[n]?.size ?? 0));
        layerImages.set(d, (layerImages.get(d) ?? 0) + 1);
      });
    }
    const shared = (i: imagesV1.Image) => i.diffIds.reduce((s, d, n) => s + ((layerImages.get(d) ?? 0) > 1 ? Number(i.layers[n]?.size ?? 0) : 0), 0);
    res.json({
      LayersSize: [...layerSize.values()].reduce((a, n) => a + n, 0),
      Images: list.map((i) => ({
        Id: i.id,
        ParentId: i.parent,
        RepoTags: i.repoTags,
        RepoDigests: i.repoDigests,
        Created: Math.floor(i.createdUnixMs / 1000),
        Size: Number(i.size),
        SharedSize: shared(i),
        VirtualSize: Number(i.size),
        Labels: labelsOf(i),
        Containers: uses.get(i.id) ?? 0,
      })),
      Containers: await withSizes(b, containers.map((c) => JSON.parse(Buffer.from(c.summaryJson).toString()) as Record<string, unknown>)),
      Volumes: await volumesWithUsage(b),
      BuildCache: [],
    });
  });

  return r;
}
