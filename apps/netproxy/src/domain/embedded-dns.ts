import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Logger } from '@berth/logging';
import { parseQuery, RCODE_NXDOMAIN, reply, TYPE_A } from './dns-message';

const UPSTREAM_TIMEOUT_MS = 3000;

/** Resolves a lower-case name on one network to its containers' addresses. */
export type NameLookup = (networkId: string, name: string) => string[] | undefined;

/** The resolvers a container asked for (--dns), by its address on a network; empty for the host's. */
export type UpstreamLookup = (networkId: string, clientIp: string) => string[];

/**
 * Docker's embedded DNS for user-defined networks: a UDP server on each network's gateway
 * address that answers container names, aliases and short IDs of that network's endpoints and
 * forwards every other question to the host's resolvers. Unlike the NAT rules it lives in this
 * process, as Docker's lives in dockerd: while netproxy restarts, names do not resolve.
 */
export class EmbeddedDns {
  private readonly servers = new Map<string, Socket>();

  constructor(
    private readonly lookup: NameLookup,
    private readonly logger: Logger,
    private readonly upstreamsOf: UpstreamLookup = () => [],
    private readonly upstreams = hostResolvers(),
    private readonly upstreamPort = 53,
  ) {}

  async serve(networkId: string, address: string, port = 53): Promise<void> {
    if (this.servers.has(networkId)) return;
    const sock = createSocket('udp4');
    sock.on('message', (msg, from) => this.answer(sock, networkId, msg, from.address, from.port));
    sock.on('error', (err) => this.logger.warn({ networkId, err: err.message }, 'embedded DNS socket error'));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    this.servers.set(networkId, sock);
  }

  stop(networkId: string): void {
    this.servers.get(networkId)?.close();
    this.servers.delete(networkId);
  }

  close(): void {
    for (const id of [...this.servers.keys()]) this.stop(id);
  }

  private answer(sock: Socket, networkId: string, msg: Buffer, host: string, port: number): void {
    const q = parseQuery(msg);
    if (!q) return;
    const addrs = this.lookup(networkId, q.name);
    if (addrs) {
      // A known container has only IPv4 addresses: other types get an empty answer.
      sock.send(reply(msg, q, q.type === TYPE_A ? addrs : []), port, host);
      return;
    }
    const upstream = this.upstreamsOf(networkId, host)[0] ?? this.upstreams[0];
    // A single-label name that is no container here is no one's: answering at once spares the
    // host's resolver (and the outside) questions that only make sense on this network.
    // RFC 6761: .invalid and .localhost never go to the network.
    if (!upstream || !q.name.includes('.') || /(^|\.)(invalid|localhost)$/.test(q.name)) {
      sock.send(reply(msg, q, [], RCODE_NXDOMAIN), port, host);
      return;
    }
    const out = createSocket('udp4');
    const timer = setTimeout(() => out.close(), UPSTREAM_TIMEOUT_MS);
    timer.unref();
    out.on('error', () => {
      clearTimeout(timer);
      out.close();
    });
    out.on('message', (answer) => {
      clearTimeout(timer);
      out.close();
      sock.send(answer, port, host);
    });
    out.send(msg, this.upstreamPort, upstream);
  }
}

/** The host's nameservers; loopback ones are fine here, since netproxy runs in the host's namespace. */
export function hostResolvers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1])
      .filter((x): x is string => !!x);
  } catch {
    return [];
  }
}
