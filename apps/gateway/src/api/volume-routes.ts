import express, { Router, type Request } from 'express';
import { unary } from '@berth/clients';
import { invalidArgument } from '@berth/errors';
import type { volumesV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';

const bool = (v: unknown) => v === '1' || v === 'true' || v === 'True';
const orNull = (m: Record<string, string>) => (Object.keys(m).length ? m : null);

/** The Engine API's Volume object. */
export function volumeJson(v: volumesV1.Volume, usage = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: orNull(v.labels),
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: orNull(v.options),
    Scope: v.scope,
  };
  if (usage) out.UsageData = { Size: v.size, RefCount: v.containers.length };
  return out;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalidArgument(`json: cannot unmarshal ${field}: expected an object of strings`);
  }
  return v as Record<string, string>;
}

const filtersOf = (req: Request) => (typeof req.query.filters === 'string' ? req.query.filters : '');

/** `/volumes`: the volume service of the snapshotter, in Docker's shapes. */
export function volumeRoutes(b: Backends): Router {
  const r = Router();
  const json = express.raw({ type: () => true, limit: '1mb' });
  const c = () => b.peers.volumes;

  r.post('/volumes/create', json, async (req, res) => {
    let body: Record<string, unknown> = {};
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (text.trim()) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
      }
    }
    if (body.Name !== undefined && typeof body.Name !== 'string') throw invalidArgument('json: cannot unmarshal Name: expected a string');
    const v = await unary('snapshotter', c().createVolume.bind(c()), {
      name: (body.Name as string | undefined) ?? '',
      driver: typeof body.Driver === 'string' ? body.Driver : '',
      labels: stringMap(body.Labels, 'Labels'),
      driverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
      anonymous: false,
    }, { idempotent: false });
    res.status(201).json(volumeJson(v));
  });

  r.get('/volumes', async (req, res) => {
    const out = await unary('snapshotter', c().listVolumes.bind(c()), { filtersJson: filtersOf(req), withSize: false });
    res.json({ Volumes: out.volumes.map((v) => volumeJson(v)), Warnings: null });
  });

  r.post('/volumes/prune', async (req, res) => {
    const out = await unary('snapshotter', c().pruneVolumes.bind(c()), { filtersJson: filtersOf(req) }, { deadlineMs: 300_000, idempotent: false });
    res.json({ VolumesDeleted: out.deleted.length ? out.deleted : null, SpaceReclaimed: out.spaceReclaimed });
  });

  r.get('/volumes/:name', async (req, res) => {
    const v = await unary('snapshotter', c().getVolume.bind(c()), { name: String(req.params.name), withSize: false });
    res.json(volumeJson(v));
  });

  r.delete('/volumes/:name', async (req, res) => {
    await unary('snapshotter', c().removeVolume.bind(c()), { name: String(req.params.name), force: bool(req.query.force) }, { idempotent: false });
    res.status(204).end();
  });

  return r;
}
