import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, Suite, type RunResult } from '../support/berth';
import { loadClientImages } from './load-images';

const SEEDS = '/work/shared/seeds';

/**
 * Seed 001's compose file, with two changes a local test needs: the local httpd image for the
 * one on Docker Hub, and `ports: ['80']` for `'4000:80'`, because five replicas cannot all bind
 * host port 4000 outside swarm's routing mesh (dockerd refuses the second the same way).
 */
function seedCompose(): Record<string, unknown> {
  const file = readdirSync(SEEDS).find((f) => f.startsWith('001_'));
  if (!file) throw new Error(`no seed 001 in ${SEEDS}`);
  const text = readFileSync(join(SEEDS, file), 'utf8');
  const block = /```ya?ml\n([\s\S]*?)```/.exec(text)?.[1];
  if (!block) throw new Error('seed 001 has no yaml block');
  const doc = parse(block) as { services: { web: Record<string, unknown> } };
  doc.services.web.image = 'berth-clients/httpd:latest';
  doc.services.web.ports = ['80'];
  return doc as unknown as Record<string, unknown>;
}

let suite: Suite;
let dir: string;
const project = `bc${Date.now().toString(36)}`;

function compose(args: string[]): Promise<RunResult> {
  return run('/usr/bin/docker-compose', ['--compatibility', '-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], {
    env: { DOCKER_HOST: suite.dockerHost, COMPOSE_INTERACTIVE_NO_CLI: '1' },
    timeoutMs: 180_000,
    cwd: dir,
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

async function projectContainers(all = false): Promise<Record<string, any>[]> {
  const ids = (await suite.docker(['ps', '-q', ...(all ? ['-a'] : []), '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim();
  if (!ids) return [];
  return JSON.parse((await suite.docker(['inspect', ...ids.split('\n')])).stdout) as Record<string, any>[];
}

beforeAll(async () => {
  suite = await Suite.start();
  await loadClientImages(suite);
  dir = mkdtempSync('/tmp/bt-compose-');
  writeFileSync(join(dir, 'docker-compose.yml'), stringify(seedCompose()));
});

afterAll(async () => {
  if (suite && dir) await compose(['down', '-t', '1']).catch(() => undefined);
  await suite?.removeAllContainers({ volumes: true });
  await suite?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('docker-compose 1.29 with seed 001', () => {
  it('up -d starts 5 replicas', async () => {
    const up = await compose(['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    const cs = await projectContainers();
    expect(cs).toHaveLength(5);
    expect(cs.every((c) => c.State.Running)).toBe(true);
  });

  it('every replica answers over its published port on loopback', async () => {
    const cs = await projectContainers();
    const ports = cs.map((c) => Number(c.NetworkSettings.Ports['80/tcp']?.[0]?.HostPort));
    expect(new Set(ports).size).toBe(5);
    for (const p of ports) {
      expect(p).toBeGreaterThan(0);
      expect(await get(p)).toBe('hello from berth\n');
    }
  });

  it('the 50M memory and 0.1 CPU limits are in inspect', async () => {
    for (const c of await projectContainers()) {
      expect(c.HostConfig.Memory).toBe(50 * 1024 * 1024);
      expect(c.HostConfig.NanoCpus).toBe(100_000_000);
    }
  });

  it('the restart policy is on-failure', async () => {
    for (const c of await projectContainers()) expect(c.HostConfig.RestartPolicy.Name).toBe('on-failure');
  });

  it('the replicas are on the webnet network', async () => {
    const net = JSON.parse((await suite.docker(['network', 'inspect', `${project}_webnet`])).stdout)[0];
    expect(net.Driver).toBe('bridge');
    const cs = await projectContainers();
    expect(Object.keys(net.Containers).sort()).toEqual(cs.map((c) => c.Id).sort());
    for (const c of cs) expect(Object.keys(c.NetworkSettings.Networks)).toEqual([`${project}_webnet`]);
  });

  it('ps lists the 5 replicas as Up', async () => {
    const ps = await compose(['ps']);
    expect(ps.code, ps.stderr).toBe(0);
    const rows = ps.stdout.split('\n').filter((l) => l.includes(`${project}_web_`));
    expect(rows).toHaveLength(5);
    for (const r of rows) expect(r).toMatch(/\bUp\b/);
  });

  it('logs shows what the replicas wrote', async () => {
    const logs = await compose(['logs', '--no-color']);
    expect(logs.code, logs.stderr).toBe(0);
    // Each replica says what it serves before it execs httpd, and httpd -v logs the request the
    // loop above made; compose prefixes lines with the service's replica name.
    for (let i = 1; i <= 5; i++) {
      expect(logs.stdout).toMatch(new RegExp(`^web_${i}\\s+\\|\\s*httpd serving /www on :80$`, 'm'));
      expect(logs.stdout).toMatch(new RegExp(`^web_${i}\\s+\\|.*response:200$`, 'm'));
    }
  });

  it('down leaves no container and no network behind', async () => {
    const down = await compose(['down', '-t', '1']);
    expect(down.code, down.stderr).toBe(0);
    expect(await projectContainers(true)).toEqual([]);
    const nets = (await suite.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout;
    expect(nets).not.toContain(`${project}_webnet`);
  });
});
