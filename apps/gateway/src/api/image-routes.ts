import { Router, type Request } from 'express';
import type { ServiceError } from '@grpc/grpc-js';
import { unary } from '@berth/clients';
import { conflict, HTTP_STATUS, invalidArgument, kindOf, messageOf, notImplemented } from '@berth/errors';
import { fromServiceError } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import { familiarName, parseReference } from '@berth/reference';
import type { Backends } from '../domain/backends';
import { pullRoute } from './registry-routes';
import { filterImages, parseFilters } from '../domain/image-filters';
import { abandonUpload } from './uploads';

const bool = (v: unknown) => v === '1' || v === 'true' || v === 'True';
const seconds = (ms: number) => Math.floor(ms / 1000);
/** Image names contain slashes, so these routes are regular expressions with the name as group 1. */
const named = (suffix: string) => new RegExp(`^/images/(.+?)${suffix}$`);
const nameOf = (req: Request) => decodeURIComponent(String((req.params as Record<string, string>)[0] ?? ''));

function configOf(i: imagesV1.Image): Record<string, unknown> {
  return JSON.parse(Buffer.from(i.configJson).toString('utf8') || '{}') as Record<string, unknown>;
}

/** dockerd's container.Config with no field set, as image inspect shows an absent config. */
const ZERO_CONTAINER_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false,
  StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
};

export function inspectImage(i: imagesV1.Image): Record<string, unknown> {
  const cfg = configOf(i);
  return {
    Id: i.id,
    RepoTags: i.repoTags,
    RepoDigests: i.repoDigests,
    Parent: i.parent,
    Comment: cfg.comment ?? '',
    Created: cfg.created ?? new Date(i.createdUnixMs).toISOString(),
    DockerVersion: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    // A commit records the container it came from; other images show dockerd's zero values.
    Container: cfg.container ?? '',
    ContainerConfig: { ...ZERO_CONTAINER_CONFIG, ...((cfg.container_config as object | undefined) ?? {}) },
    Config: { ...ZERO_CONTAINER_CONFIG, ...((cfg.config as object | undefined) ?? {}) },
    Architecture: cfg.architecture ?? '',
    Variant: cfg.variant,
    Os: cfg.os ?? 'linux',
    Size: i.size,
    VirtualSize: i.size,
    GraphDriver: { Name: 'overlay2', Data: null },
    RootFS: { Type: 'layers', Layers: i.diffIds },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export function imageRoutes(b: Backends): Router {
  const r = Router();
  const images = () => b.peers.images;

  r.get('/images/json', async (req, res) => {
    const all = await b.listImages();
    // Without all=1 dockerd leaves out intermediate images: untagged ones other images are built on.
    const parents = new Set(all.map((i) => i.parent).filter(Boolean));
    const shown = bool(req.query.all) ? all : all.filter((i) => !(i.repoTags.length === 0 && parents.has(i.id)));
    const list = filterImages(shown, parseFilters(req.query.filters));
    res.json(
      list.map((i) => ({
        Id: i.id,
        ParentId: i.parent,
        RepoTags: i.repoTags,
        RepoDigests: i.repoDigests,
        Created: seconds(i.createdUnixMs),
        Size: i.size,
        SharedSize: -1,
        Labels: (configOf(i).config as { Labels?: unknown } | undefined)?.Labels ?? {},
        Containers: -1,
      })),
    );
  });

  r.post('/images/create', async (req, res) => {
    const fromSrc = req.query.fromSrc;
    if (fromSrc === undefined) return pullRoute(b, req, res);
    if (fromSrc !== '-') throw notImplemented('importing from a URL is not supported by Berth; pipe the tarball to docker import -');
    const repo = String(req.query.repo ?? '');
    const tag = repo ? `${repo}${req.query.tag ? `:${String(req.query.tag)}` : ''}` : '';
    const changes = ([] as unknown[]).concat(req.query.changes ?? []).map(String);
    const img = await new Promise<imagesV1.Image>((resolve, reject) => {
      const call = images().importRootfs((err, out) => {
        if (!err) return resolve(out!);
        abandonUpload(req);
        reject(fromServiceError(err, 'images'));
      });
      call.write({ tag, changes, message: String(req.query.message ?? ''), data: Buffer.alloc(0) });
      req.on('data', (chunk: Buffer) => {
        if (!call.write({ tag: '', changes: [], message: '', data: chunk })) {
          req.pause();
          call.once('drain', () => req.resume());
        }
      });
      req.on('end', () => call.end());
      req.on('aborted', () => call.cancel());
    });
    res.status(200).setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify({ status: img.id })}\n`);
  });

  r.post('/images/load', (req, res) => {
    const call = images().loadArchive();
    let started = false;
    let failed = false;
    const start = () => {
      if (!started && !failed) {
        started = true;
        res.status(200).setHeader('Content-Type', 'application/json');
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (!call.write({ data: chunk })) {
        req.pause();
        call.once('drain', () => req.resume());
      }
    });
    req.on('end', () => call.end());
    req.on('aborted', () => call.cancel());
    call.on('data', (m: imagesV1.LoadArchiveResponse) => {
      start();
      res.write(`${JSON.stringify({ stream: `${m.stream}\n` })}\n`);
    });
    call.on('end', () => {
      if (failed) return;
      start();
      res.end();
    });
    call.on('error', (err: ServiceError) => {
      if (failed) return;
      failed = true;
      abandonUpload(req);
      const e = fromServiceError(err, 'images');
      if (!started) {
        res.status(HTTP_STATUS[kindOf(e)]).json({ message: messageOf(e) });
        return;
      }
      res.end(`${JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) })}\n`);
    });
  });

  r.get(named('/json'), async (req, res) => {
    const i = await unary('images', images().getImage.bind(images()), { reference: nameOf(req) });
    res.json(inspectImage(i));
  });

  r.get(named('/history'), async (req, res) => {
    const h = await unary('images', images().imageHistory.bind(images()), { reference: nameOf(req) });
    res.json(h.entries.map((e) => ({ Id: e.id, Created: e.createdUnix, CreatedBy: e.createdBy, Tags: e.tags.length ? e.tags : null, Size: e.size, Comment: e.comment })));
  });

  r.post(named('/tag'), async (req, res) => {
    const repo = String(req.query.repo ?? '');
    if (!repo) throw invalidArgument('repository name must have at least one component');
    const tag = String(req.query.tag ?? '') || 'latest';
    await unary('images', images().tagImage.bind(images()), { source: nameOf(req), target: `${repo}:${tag}` }, { idempotent: false });
    res.status(201).end();
  });

  r.delete(/^\/images\/(.+)$/, async (req, res) => {
    const ref = nameOf(req);
    const force = bool(req.query.force);
    const img = await unary('images', images().getImage.bind(images()), { reference: ref });
    const users = (await b.listContainers(true)).filter((c) => c.imageId === img.id);
    const byTag = (() => {
      try {
        const full = familiarName(parseReference(ref));
        return img.repoTags.includes(full);
      } catch {
        return false;
      }
    })();
    const deletes = !byTag || img.repoTags.length <= 1;
    if (users.length > 0 && deletes && !force) {
      const user = users[0]!;
      throw byTag
        ? conflict(`conflict: unable to remove repository reference "${ref}" (must force) - container ${user.id.slice(0, 12)} is using its referenced image ${img.id.slice(7, 19)}`)
        : conflict(`conflict: unable to delete ${img.id.slice(7, 19)} (must be forced) - image is being used by ${user.status === 'running' ? 'running' : 'stopped'} container ${user.id.slice(0, 12)}`);
    }
    const inUse = [...new Set((await b.listContainers(true)).map((c) => c.imageId))];
    const out = await unary('images', images().deleteImage.bind(images()), { reference: ref, force, noPrune: bool(req.query.noprune), inUse }, { idempotent: false });
    // Docker frees the image's layers with it; here that is a collection of what nothing uses.
    if (out.deleted.length && !bool(req.query.noprune)) await unary('images', images().collectGarbage.bind(images()), {}).catch(() => undefined);
    res.json([...out.untagged.map((u) => ({ Untagged: u })), ...out.deleted.map((d) => ({ Deleted: d }))]);
  });

  return r;
}
