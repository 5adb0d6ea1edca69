import { invalidArgument } from '@berth/errors';
import type { netproxyV1 } from '@berth/proto';

/** The Engine API's Network object (`docker network inspect`, `ls`). */
export function networkJson(n: netproxyV1.Network, withContainers: boolean): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const e of n.endpoints) {
      containers[e.containerId] = { Name: e.containerName, EndpointID: e.endpointId, MacAddress: e.macAddress, IPv4Address: e.ipv4Cidr, IPv6Address: '' };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: new Date(Number(n.createdUnixMs)).toISOString(),
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: n.enableIpv6,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: n.ipam.map((i) => ({ Subnet: i.subnet, Gateway: i.gateway, ...(i.ipRange ? { IPRange: i.ipRange } : {}) })),
    },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

function values(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.keys(v).filter((k) => (v as Record<string, unknown>)[k]);
  return [];
}

const KNOWN = new Set(['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling']);
const BUILTIN = new Set(['bridge', 'host', 'none']);

/** `docker network ls --filter`: values of a key OR'ed, keys AND'ed. */
export function filterNetworks(list: netproxyV1.Network[], filters: Record<string, unknown>): netproxyV1.Network[] {
  for (const k of Object.keys(filters)) if (!KNOWN.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  const f = (k: string) => values(filters[k]);
  for (const t of f('type')) if (t !== 'custom' && t !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${t}'`);
  return list.filter((n) => {
    const any = (k: string, ok: (v: string) => boolean) => f(k).length === 0 || f(k).some(ok);
    return (
      any('name', (v) => n.name.includes(v)) &&
      any('id', (v) => n.id.startsWith(v)) &&
      any('driver', (v) => n.driver === v) &&
      any('scope', (v) => v === 'local') &&
      any('type', (v) => (v === 'builtin') === BUILTIN.has(n.name)) &&
      any('dangling', (v) => (v === 'true' || v === '1') === (n.endpoints.length === 0 && !BUILTIN.has(n.name))) &&
      f('label').every((l) => {
        const [k, val] = l.split('=', 2) as [string, string | undefined];
        return k in n.labels && (val === undefined || n.labels[k] === val);
      })
    );
  });
}
