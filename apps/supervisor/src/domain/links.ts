import { invalidArgument } from '@berth/errors';
import type { Containers } from './containers';
import type { ContainerRecord } from './model';

export interface Link {
  target: ContainerRecord;
  alias: string;
}

/** HostConfig.Links as the CLI sends them ("name:alias" or "/name:/me/alias"), resolved to containers. */
export function resolveLinks(containers: Containers, links: string[] | null | undefined): Link[] {
  return (links ?? []).map((l) => {
    const [rawName, rawAlias] = l.split(':', 2) as [string, string | undefined];
    const name = rawName.replace(/^\//, '');
    const alias = (rawAlias ?? name).split('/').pop()!;
    if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(alias)) throw invalidArgument(`invalid link: ${l}`);
    const target = containers.get(name);
    if (!target.networks?.length) throw invalidArgument(`Cannot link to ${target.name}: it is not on a bridge network`);
    return { target, alias };
  });
}

function ipOf(rec: ContainerRecord): string {
  return rec.networks?.[0]?.ipv4Address ?? '';
}

/** /etc/hosts lines for links: the alias, the target's short ID and its name, as Docker writes them. */
export function linkHosts(links: Link[]): string[] {
  return links.map((l) => `${[l.alias, l.target.id.slice(0, 12), l.target.name].filter((v, i, a) => a.indexOf(v) === i).join(' ')}:${ipOf(l.target)}`);
}

/** Docker's legacy link environment: <ALIAS>_PORT_<n>_<PROTO>..., <ALIAS>_NAME and <ALIAS>_ENV_<var>. */
export function linkEnv(links: Link[], selfName: string): string[] {
  const out: string[] = [];
  for (const l of links) {
    const p = l.alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    const ip = ipOf(l.target);
    const exposed = Object.keys(l.target.config.ExposedPorts ?? {})
      .map((k) => {
        const [port, proto = 'tcp'] = k.split('/');
        return { port: Number(port), proto };
      })
      .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
    if (exposed[0]) out.push(`${p}_PORT=${exposed[0].proto}://${ip}:${exposed[0].port}`);
    for (const e of exposed) {
      const k = `${p}_PORT_${e.port}_${e.proto.toUpperCase()}`;
      out.push(`${k}=${e.proto}://${ip}:${e.port}`, `${k}_ADDR=${ip}`, `${k}_PORT=${e.port}`, `${k}_PROTO=${e.proto}`);
    }
    out.push(`${p}_NAME=/${selfName}/${l.alias}`);
    for (const kv of l.target.config.Env ?? []) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (['HOME', 'PATH', 'HOSTNAME'].includes(key)) continue;
      out.push(`${p}_ENV_${kv}`);
    }
  }
  return out;
}
