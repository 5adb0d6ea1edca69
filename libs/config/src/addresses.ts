import { invalidArgument } from '@berth/errors';

export interface ListenAddress {
  kind: 'unix' | 'tcp';
  path?: string;
  host?: string;
  port?: number;
}

/** Parses a `-H` value the way dockerd does: unix:///path, tcp://host:port, fd:// is not supported. */
export function parseHost(value: string): ListenAddress {
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!path.startsWith('/')) throw invalidArgument(`invalid bind address format: ${value}`);
    return { kind: 'unix', path };
  }
  if (value.startsWith('tcp://')) {
    const rest = value.slice('tcp://'.length);
    const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(rest);
    if (!m) throw invalidArgument(`invalid bind address format: ${value}`);
    const port = Number(m[2]);
    if (port <= 0 || port > 65535) throw invalidArgument(`invalid bind address format: ${value}`);
    return { kind: 'tcp', host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
  }
  throw invalidArgument(`invalid bind address format: ${value}`);
}
