import { invalidArgument } from '@berth/errors';
import type { supervisorV1 } from '@berth/proto';

const KNOWN = new Set(['status', 'name', 'id', 'label', 'exited', 'ancestor', 'before', 'since', 'network', 'publish', 'expose', 'health']);
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

interface SummaryNet {
  NetworkSettings?: { Networks?: Record<string, { NetworkID?: string }> };
  Ports?: { PrivatePort: number; PublicPort?: number; Type: string }[];
}

/** "80", "80/tcp" or "8000-8080/udp" against one port and protocol. */
function portMatches(spec: string, port: number | undefined, proto: string): boolean {
  if (port === undefined) return false;
  const [range, p = 'tcp'] = spec.split('/');
  const [lo, hi = lo] = range!.split('-').map(Number);
  return p === proto && port >= lo! && port <= hi!;
}

/** Engine API filters come as {"key": ["v"]} or the older {"key": {"v": true}}. */
function values(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.keys(v).filter((k) => (v as Record<string, unknown>)[k]);
  return [];
}

/** State.Health.Status, or "none" for a container without health checks (never started ones too). */
function healthOf(c: supervisorV1.Container): string {
  const inspect = JSON.parse(Buffer.from(c.inspectJson).toString() || '{}') as { State?: { Health?: { Status?: string } } };
  return inspect.State?.Health?.Status ?? 'none';
}

/** `docker ps --filter`: values of one key are OR'ed, keys are AND'ed, as in Docker. */
export function filterContainers(list: supervisorV1.Container[], filters: Record<string, unknown>, all: boolean): supervisorV1.Container[] {
  for (const k of Object.keys(filters)) if (!KNOWN.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  const f = (k: string) => values(filters[k]);
  const statuses = f('status');
  for (const s of statuses) {
    if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) {
      throw invalidArgument(`invalid filter 'status=${s}'`);
    }
  }
  for (const h of f('health')) if (!HEALTH.includes(h)) throw invalidArgument(`Unrecognised filter value for health: ${h}`);
  const byRef = (ref: string) => list.find((c) => c.id.startsWith(ref) || c.name === ref.replace(/^\//, ''));
  const before = f('before').map(byRef)[0];
  const since = f('since').map(byRef)[0];
  return list.filter((c) => {
    if (!all && statuses.length === 0 && !['running', 'paused', 'restarting'].includes(c.status)) return false;
    if (statuses.length && !statuses.includes(c.status)) return false;
    if (f('name').length && !f('name').some((n) => new RegExp(n.replace(/^\//, '')).test(c.name))) return false;
    if (f('id').length && !f('id').some((i) => c.id.startsWith(i))) return false;
    if (f('exited').length && !(c.status === 'exited' && f('exited').map(Number).includes(c.exitCode))) return false;
    if (f('ancestor').length && !f('ancestor').some((a) => c.image === a || c.imageId === a || c.imageId.replace('sha256:', '').startsWith(a))) return false;
    for (const l of f('label')) {
      const i = l.indexOf('=');
      if (i < 0 ? !(l in c.labels) : c.labels[l.slice(0, i)] !== l.slice(i + 1)) return false;
    }
    if (f('network').length || f('publish').length || f('expose').length) {
      const sum = JSON.parse(Buffer.from(c.summaryJson).toString() || '{}') as SummaryNet;
      const nets = Object.entries(sum.NetworkSettings?.Networks ?? {});
      if (f('network').length && !f('network').some((n) => nets.some(([name, v]) => name === n || (!!v.NetworkID && v.NetworkID.startsWith(n))))) return false;
      const ports = sum.Ports ?? [];
      if (f('publish').length && !f('publish').some((sp) => ports.some((p) => portMatches(sp, p.PublicPort, p.Type)))) return false;
      if (f('expose').length && !f('expose').some((sp) => ports.some((p) => portMatches(sp, p.PrivatePort, p.Type)))) return false;
    }
    if (f('health').length && !f('health').includes(healthOf(c))) return false;
    if (before && c.createdUnixMs >= before.createdUnixMs) return false;
    if (since && c.createdUnixMs <= since.createdUnixMs) return false;
    return true;
  });
}
