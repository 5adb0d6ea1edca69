import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';

/** A loopback port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// Prometheus' own Python client parses the exposition (Debian's python3-prometheus-client): the
// output must be text it accepts, families once each, every sample typed.
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

interface Sample {
  family: string;
  type: string;
  name: string;
  labels: Record<string, string>;
  value: number;
}

describe('--metrics-addr', () => {
  let suite: Suite;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    suite = await Suite.startWithBusybox(['--metrics-addr', `127.0.0.1:${port}`]);
  });
  afterAll(async () => {
    await suite?.removeAllContainers();
    await suite?.stop();
  });

  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const parsed = await new Promise<string>((resolve, reject) => {
      const p = spawn('/usr/bin/python3', ['-c', PARSE], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the Prometheus parser refused the output: ${err}\n${text.slice(0, 2000)}`))));
      p.stdin.end(text);
    });
    return JSON.parse(parsed) as Sample[];
  };

  it('serves the running container count, engine and per-service figures as Prometheus text', async () => {
    const id = (await suite.docker(['run', '-d', 'busybox', 'sleep', '300'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await suite.docker(['create', 'busybox', 'true']);
    const samples = await scrape();
    const one = (name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(one('engine_daemon_container_states_containers', { state: 'running' })[0]?.value).toBe(1);
    expect(one('engine_daemon_container_states_containers', { state: 'stopped' })[0]?.value).toBe(1);
    expect(one('engine_daemon_container_actions_seconds_count', { action: 'create' })[0]?.value).toBe(2);
    expect(one('engine_daemon_container_actions_seconds_count', { action: 'start' })[0]?.value).toBe(1);
    expect(one('engine_daemon_events_total', { type: 'container' }).reduce((n, s) => n + s.value, 0)).toBeGreaterThan(0);
    for (const service of ['gateway', 'images', 'snapshotter', 'supervisor', 'netproxy']) {
      expect(one('berth_service_up', { service })[0]?.value, service).toBe(1);
      expect(one('process_resident_memory_bytes', { service })[0]?.value, service).toBeGreaterThan(0);
    }
    const creates = one('berth_grpc_server_handled_total', { service: 'supervisor', method: '/berth.supervisor.v1.Containers/CreateContainer', code: 'OK' });
    expect(creates[0]?.value).toBe(2);
    expect(one('berth_grpc_server_handling_seconds_count', { service: 'snapshotter' }).length).toBeGreaterThan(0);
  });

  it('answers other paths with 404 and keeps serving while a service is down', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    const r = await suite.admin(['status']);
    expect(r.code).toBe(0);
    const images = suite.state().children.images!.pid;
    process.kill(images, 'SIGSTOP');
    try {
      const samples = await scrape();
      expect(samples.find((s) => s.name === 'berth_service_up' && s.labels.service === 'images')?.value).toBe(0);
      expect(samples.find((s) => s.name === 'berth_service_up' && s.labels.service === 'supervisor')?.value).toBe(1);
    } finally {
      process.kill(images, 'SIGCONT');
    }
  });
});
