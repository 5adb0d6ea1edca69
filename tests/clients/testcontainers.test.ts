import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Redis from 'ioredis';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { loadClientImages } from './load-images';

let suite: Suite;
let tmp: string;
const started: StartedTestContainer[] = [];

beforeAll(async () => {
  suite = await Suite.start();
  await loadClientImages(suite);
  // testcontainers finds its engine from the environment, once, at first use; Ryuk would be
  // an image from Docker Hub, which tests never pull, so cleanup is ours (afterAll).
  process.env.DOCKER_HOST = suite.dockerHost;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
  tmp = mkdtempSync('/tmp/bt-tc-');
});

afterAll(async () => {
  for (const c of started) await c.stop({ timeout: 1 }).catch(() => undefined);
  await suite?.removeAllContainers({ volumes: true });
  await suite?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function start(c: GenericContainer): Promise<StartedTestContainer> {
  const s = await c.start();
  started.push(s);
  return s;
}

describe('testcontainers', () => {
  it('waits for a listening port and copies files in', async () => {
    const file = join(tmp, 'page.html');
    writeFileSync(file, 'copied by testcontainers\n');
    const web = await start(
      new GenericContainer('berth-clients/httpd:latest')
        .withExposedPorts(80)
        .withCopyFilesToContainer([{ source: file, target: '/www/page.html' }])
        .withCopyContentToContainer([{ content: 'inline\n', target: '/www/inline.txt' }])
        .withWaitStrategy(Wait.forListeningPorts()),
    );
    const port = web.getMappedPort(80);
    expect(await get(port, '/page.html')).toEqual({ status: 200, body: 'copied by testcontainers\n' });
    expect((await get(port, '/inline.txt')).body).toBe('inline\n');
    expect((await get(port, '/')).body).toBe('hello from berth\n');
  });

  it('waits for a log message and runs exec', async () => {
    const c = await start(
      new GenericContainer('busybox:latest')
        .withCommand(['sh', '-c', 'sleep 1; echo "ready to go"; exec sleep 300'])
        .withEnvironment({ GREETING: 'hi there' })
        .withWaitStrategy(Wait.forLogMessage('ready to go')),
    );
    const r = await c.exec(['sh', '-c', 'echo $GREETING; echo oops >&2; exit 3']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('hi there\n');
    expect(r.stderr).toBe('oops\n');
    const logs = await c.logs();
    let text = '';
    await new Promise<void>((resolve) => {
      logs.on('data', (d: Buffer | string) => {
        text += d.toString();
        if (text.includes('ready to go')) resolve();
      });
    });
    expect(text).toContain('ready to go');
  });

  it('a Redis container from Debian redis-server, reached with ioredis', async () => {
    const redis = await start(new GenericContainer('berth-clients/redis:latest').withExposedPorts(6379).withWaitStrategy(Wait.forLogMessage('Ready to accept connections')));
    const client = new Redis({ host: '127.0.0.1', port: redis.getMappedPort(6379), lazyConnect: true, maxRetriesPerRequest: 3 });
    try {
      await client.connect();
      await client.set('berth', 'works');
      expect(await client.get('berth')).toBe('works');
      expect(await client.incr('n')).toBe(1);
    } finally {
      client.disconnect();
    }
    const r = await redis.exec(['redis-cli', 'ping']).catch(() => undefined);
    // no redis-cli in the image: exec of a missing program reports 127, as Docker does
    expect(r?.exitCode ?? 127).toBe(127);
  });

  it('fromDockerfile builds an image with a build arg and a label, then starts it', async () => {
    const ctx = join(tmp, 'built');
    mkdirSync(join(ctx, 'docker'), { recursive: true });
    writeFileSync(join(ctx, 'docker', 'App.Dockerfile'), 'FROM busybox:latest\nARG FLAVOUR=plain\nCOPY motd.txt /motd.txt\nRUN echo "flavour $FLAVOUR" >> /motd.txt\nCMD ["sh", "-c", "cat /motd.txt; echo listening; exec sleep 300"]\n');
    writeFileSync(join(ctx, 'motd.txt'), 'built by testcontainers\n');
    const image = await GenericContainer.fromDockerfile(ctx, 'docker/App.Dockerfile').withBuildArgs({ FLAVOUR: 'berth' }).build('berth-tc/built:v1', { deleteOnExit: false });
    const c = await start(image.withWaitStrategy(Wait.forLogMessage('listening')));
    const r = await c.exec(['cat', '/motd.txt']);
    expect(r.stdout).toBe('built by testcontainers\nflavour berth\n');
    // testcontainers labels what it builds; the label is on the image and its container.
    const labels = JSON.parse((await suite.docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'berth-tc/built:v1'])).stdout) as Record<string, string>;
    expect(labels['org.testcontainers']).toBe('true');

    // A failing step: testcontainers reads past the stream's error and finds no image.
    writeFileSync(join(ctx, 'docker', 'App.Dockerfile'), 'FROM busybox:latest\nRUN false\n');
    await expect(GenericContainer.fromDockerfile(ctx, 'docker/App.Dockerfile').build('berth-tc/broken:v1', { deleteOnExit: false })).rejects.toThrow('Failed to build image');
  });

  it('stop removes the container', async () => {
    const c = await new GenericContainer('busybox:latest').withCommand(['sleep', '300']).start();
    const id = c.getId();
    await c.stop({ timeout: 1 });
    const ids = (await suite.docker(['ps', '-aq', '--no-trunc'])).stdout;
    expect(ids).not.toContain(id);
  });
});
