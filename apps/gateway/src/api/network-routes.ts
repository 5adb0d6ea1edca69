import { Router, type Request } from 'express';
import express from 'express';
import { unary } from '@berth/clients';
import { invalidArgument } from '@berth/errors';
import type { Backends } from '../domain/backends';
import { filterNetworks, networkJson } from '../domain/network-json';
import { parseTimestamp } from '../domain/stdcopy';

const param = (req: Request, name: string) => String(req.params[name] ?? '');

function body<T>(req: Request): T {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (!raw.trim()) return {} as T;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch (err) {
    throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
  }
}

function filtersOf(req: Request): Record<string, unknown> {
  const raw = typeof req.query.filters === 'string' ? req.query.filters : '';
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw invalidArgument(`invalid filters: ${raw}`);
  }
}

interface CreateBody {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null } | null;
}

interface ConnectBody {
  Container?: string;
  EndpointConfig?: { IPAMConfig?: { IPv4Address?: string } | null; Aliases?: string[] | null } | null;
  Force?: boolean;
}

/** The network endpoints: records and plumbing are netproxy's, a container's connections the supervisor's. */
export function networkRoutes(b: Backends): Router {
  const r = Router();
  const json = express.raw({ type: () => true, limit: '1mb' });
  const nets = () => b.peers.networks;
  const ctrs = () => b.peers.containers;

  r.get('/networks', async (req, res) => {
    const n = nets();
    const list = (await unary('netproxy', n.listNetworks.bind(n), {})).networks;
    res.json(filterNetworks(list, filtersOf(req)).map((x) => networkJson(x, false)));
  });

  r.get('/networks/:id', async (req, res) => {
    const n = nets();
    res.json(networkJson(await unary('netproxy', n.getNetwork.bind(n), { reference: param(req, 'id') }), true));
  });

  r.post('/networks/create', json, async (req, res) => {
    const bd = body<CreateBody>(req);
    if (!bd.Name) throw invalidArgument('network name is required');
    if (bd.IPAM?.Driver && bd.IPAM.Driver !== 'default') throw invalidArgument(`IPAM driver ${bd.IPAM.Driver} is not supported by Berth`);
    const n = nets();
    const out = await unary('netproxy', n.createNetwork.bind(n), {
      name: bd.Name,
      driver: bd.Driver ?? '',
      internal: bd.Internal ?? false,
      enableIpv6: bd.EnableIPv6 ?? false,
      options: bd.Options ?? {},
      labels: bd.Labels ?? {},
      ipam: (bd.IPAM?.Config ?? []).map((c) => ({ subnet: c.Subnet ?? '', gateway: c.Gateway ?? '', ipRange: c.IPRange ?? '' })),
    }, { idempotent: false });
    res.status(201).json({ Id: out.id, Warning: '' });
  });

  r.delete('/networks/:id', async (req, res) => {
    const n = nets();
    await unary('netproxy', n.removeNetwork.bind(n), { reference: param(req, 'id') }, { idempotent: false });
    res.status(204).end();
  });

  r.post('/networks/prune', async (req, res) => {
    const f = filtersOf(req);
    const vals = (k: string) => (Array.isArray(f[k]) ? (f[k] as string[]) : Object.keys((f[k] as Record<string, boolean>) ?? {}));
    for (const k of Object.keys(f)) if (!['label', 'label!', 'until'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const until = vals('until')[0];
    const untilUnixMs = until ? parseTimestamp(until)[0] * 1000 : 0;
    const n = nets();
    const out = await unary('netproxy', n.pruneNetworks.bind(n), { labels: vals('label'), notLabels: vals('label!'), untilUnixMs }, { idempotent: false });
    res.json({ NetworksDeleted: out.deleted });
  });

  r.post('/networks/:id/connect', json, async (req, res) => {
    const bd = body<ConnectBody>(req);
    if (!bd.Container) throw invalidArgument('container is required');
    const n = nets();
    const net = await unary('netproxy', n.getNetwork.bind(n), { reference: param(req, 'id') });
    const c = ctrs();
    await unary('supervisor', c.connectNetwork.bind(c), {
      reference: bd.Container,
      network: net.name,
      ipv4Address: bd.EndpointConfig?.IPAMConfig?.IPv4Address ?? '',
      aliases: bd.EndpointConfig?.Aliases ?? [],
    }, { deadlineMs: 60_000, idempotent: false });
    res.status(200).end();
  });

  r.post('/networks/:id/disconnect', json, async (req, res) => {
    const bd = body<ConnectBody>(req);
    if (!bd.Container) throw invalidArgument('container is required');
    const n = nets();
    const net = await unary('netproxy', n.getNetwork.bind(n), { reference: param(req, 'id') });
    const c = ctrs();
    await unary('supervisor', c.disconnectNetwork.bind(c), { reference: bd.Container, network: net.id, force: bd.Force ?? false }, { deadlineMs: 60_000, idempotent: false });
    res.status(200).end();
  });

  return r;
}
