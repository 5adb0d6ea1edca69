import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalidArgument } from '@berth/errors';
import type { DaemonJson } from './config';

/** How the Engine API's TCP listeners are protected (dockerd's --tls, --tlsverify, --tlscacert/cert/key). */
export interface ApiTls {
  /** Serve TCP with TLS. */
  enabled: boolean;
  /** Require a client certificate signed by `caCert`. */
  verify: boolean;
  caCert: string;
  cert: string;
  key: string;
  /** `--tls=false` given on purpose: plain TCP is allowed, with dockerd's warning. */
  insecureAllowed: boolean;
}

/** The group that owns the unix socket when it exists (dockerd's -G/--group). */
export const DEFAULT_SOCKET_GROUP = 'docker';

export const TLS_KEYS = {
  tls: 'bool',
  tlsverify: 'bool',
  tlscacert: 'str',
  tlscert: 'str',
  tlskey: 'str',
  group: 'str',
} as const;

/**
 * dockerd's rules: --tlsverify implies --tls; certificate paths default to DOCKER_CERT_PATH or
 * ~/.docker. A TCP host without TLS is refused unless --tls=false says it is meant.
 */
export function resolveApiTls(d: DaemonJson, hosts: string[]): ApiTls {
  const certDir = process.env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const verify = d.tlsverify === true;
  const enabled = verify || d.tls === true;
  const tls: ApiTls = {
    enabled,
    verify,
    caCert: (d.tlscacert as string | undefined) ?? join(certDir, 'ca.pem'),
    cert: (d.tlscert as string | undefined) ?? join(certDir, 'cert.pem'),
    key: (d.tlskey as string | undefined) ?? join(certDir, 'key.pem'),
    insecureAllowed: d.tls === false && !verify,
  };
  const tcp = hosts.filter((h) => h.startsWith('tcp://'));
  if (tcp.length && !enabled && !tls.insecureAllowed) {
    throw invalidArgument(
      `refusing to listen on ${tcp.join(', ')} without TLS: give --tlsverify with --tlscacert, --tlscert and --tlskey, or --tls=false to accept an unauthenticated, unencrypted API that gives root to anyone who can reach it`,
    );
  }
  return tls;
}
