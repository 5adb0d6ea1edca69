import { createServer, type Server } from 'node:http';
import { type BerthConfig, SERVICE_NAMES } from '@berth/config';
import { connect, unary } from '@berth/grpc';
import { gauge, mergeMetrics, metricsJson } from '@berth/metrics';
import { metricsV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';

const SCRAPE_DEADLINE_MS = 5_000;

/** dockerd's states for its container-state gauge. */
function stateOf(status: string): 'running' | 'paused' | 'stopped' {
  if (status === 'paused') return 'paused';
  if (status === 'running' || status === 'restarting') return 'running';
  return 'stopped';
}

/**
 * dockerd's `--metrics-addr`: Prometheus text on GET /metrics, put together at each scrape from
 * this gateway's registry and every other service's (its Metrics RPC), each series labelled
 * with its service. A service that does not answer is left out and shows as
 * `berth_service_up{service} 0`, so a scrape never fails because one service is down.
 */
export async function serveMetrics(config: BerthConfig, backends: Backends): Promise<Server> {
  gauge('engine_daemon_container_states_containers', 'The count of containers in various states', ['state'], async () => {
    const counts = { running: 0, paused: 0, stopped: 0 };
    for (const c of await backends.listContainers(true).catch(() => [])) counts[stateOf(c.status)]++;
    return Object.entries(counts).map(([state, value]) => ({ labels: { state }, value }));
  });
  const peers = SERVICE_NAMES.filter((n) => n !== 'gateway').map((name) => ({ name, client: connect(metricsV1.MetricsClient, config.services[name]) }));
  const scrape = async (): Promise<{ text: string; contentType: string }> => {
    const up: { labels: { service: string }; value: number }[] = [{ labels: { service: 'gateway' }, value: 1 }];
    // A service started on demand that is not running would be started by a scrape: left out.
    const parts = await Promise.all(
      peers.filter(({ name }) => backends.peers.awake(name)).map(async ({ name, client }) => {
        try {
          const res = await unary(name, client.get.bind(client), {}, { deadlineMs: SCRAPE_DEADLINE_MS, idempotent: false });
          up.push({ labels: { service: name }, value: 1 });
          return res.metricsJson;
        } catch {
          up.push({ labels: { service: name }, value: 0 });
          return '[]';
        }
      }),
    );
    const upMetric = JSON.stringify([{ name: 'berth_service_up', help: 'Whether each Berth service answered this scrape.', type: 'gauge', aggregator: 'sum', values: up }]);
    return mergeMetrics([await metricsJson(), ...parts, upMetric]);
  };
  const [host, port] = [config.metricsAddr!.slice(0, config.metricsAddr!.lastIndexOf(':')), Number(config.metricsAddr!.slice(config.metricsAddr!.lastIndexOf(':') + 1))];
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    scrape().then(
      ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  server.on('close', () => peers.forEach((p) => p.client.close()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || '0.0.0.0', () => resolve());
  });
  return server;
}
