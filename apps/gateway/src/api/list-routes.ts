import { Router } from 'express';
import type { Backends } from '../domain/backends';

const seconds = (ms: number) => Math.floor(ms / 1000);

/** `docker ps` and `docker images`: the list endpoints, in the Engine API's shapes. */
export function listRoutes(backends: Backends): Router {
  const r = Router();

  r.get('/containers/json', async (req, res) => {
    const all = req.query.all === '1' || req.query.all === 'true';
    const list = await backends.listContainers(all);
    res.json(
      list.map((c) => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.image,
        ImageID: c.imageId,
        Command: '',
        Created: seconds(c.createdUnixMs),
        State: c.status,
        Status: c.status,
        Ports: [],
        Labels: c.labels,
        HostConfig: { NetworkMode: 'default' },
        NetworkSettings: { Networks: {} },
        Mounts: [],
      })),
    );
  });

  r.get('/images/json', async (_req, res) => {
    const list = await backends.listImages();
    res.json(
      list.map((i) => ({
        Id: i.id,
        ParentId: '',
        RepoTags: i.repoTags,
        RepoDigests: i.repoDigests,
        Created: seconds(i.createdUnixMs),
        Size: i.size,
        SharedSize: -1,
        Labels: (JSON.parse(Buffer.from(i.configJson).toString() || '{}') as { config?: { Labels?: unknown } }).config?.Labels ?? {},
        Containers: -1,
      })),
    );
  });

  return r;
}
