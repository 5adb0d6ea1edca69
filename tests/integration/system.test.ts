import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run, Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.start();
});
afterAll(async () => {
  await suite?.stop();
});

describe('system endpoints with the real docker CLI', () => {
  it('keeps an idle keep-alive connection open, as dockerd does (clients reuse theirs)', async () => {
    const sock = connect(suite.dockerHost.replace('unix://', ''));
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    const ping = 'GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n';
    sock.write(ping);
    await new Promise((r) => setTimeout(r, 7000));
    sock.write(ping);
    const done = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 1500))]);
    sock.destroy();
    expect(done).toBe('open');
    expect(got.match(/HTTP\/1.1 200 OK/g)).toHaveLength(2);
  });

  it('docker version shows Berth with its API version', async () => {
    const r = await suite.docker(['version', '--format', '{{.Server.Platform.Name}} {{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('Berth 0.1.0 1.55 1.24');
    const full = await suite.docker(['version']);
    expect(full.code).toBe(0);
    for (const svc of ['berth-images', 'berth-snapshotter', 'berth-supervisor', 'berth-netproxy', 'runc']) expect(full.stdout).toContain(svc);
  });

  it('docker info prints real figures', async () => {
    const r = await suite.docker(['info', '--format', '{{json .}}']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({
      Containers: 0,
      Images: 0,
      Driver: 'overlay2',
      DockerRootDir: suite.dataRoot,
      NCPU: cpus().length,
      OSType: 'linux',
      DefaultRuntime: 'runc',
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
    });
    expect(info.ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(info.Warnings).toEqual([]);
    expect(String(info.KernelVersion)).toBe((await import('node:os')).release());
  });

  it('negotiates down to what the client speaks and refuses versions out of range', async () => {
    const ping = await suite.api('HEAD', '/_ping');
    expect(ping.status).toBe(200);
    expect(ping.headers['api-version']).toBe('1.55');
    expect(ping.headers['ostype']).toBe('linux');
    expect((await suite.api('GET', '/_ping')).body).toBe('OK');
    expect((await suite.docker(['version'], { env: { DOCKER_API_VERSION: '1.24' } })).code).toBe(0);
    const old = await suite.api('GET', '/v1.23/version');
    expect(old.status).toBe(400);
    expect(JSON.parse(old.body).message).toBe(
      'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    );
    const tooNew = await suite.api('GET', '/v1.56/info');
    expect(tooNew.status).toBe(400);
    expect(JSON.parse(tooNew.body).message).toBe('client version 1.56 is too new. Maximum supported API version is 1.55');
  });

  it('answers unknown paths with a Docker-style 404 so clients fall through', async () => {
    const r = await suite.api('GET', '/v1.50/no-such-endpoint');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ message: 'page not found' });
    // The CLI shows raw JSON instead of the message unless the type is exactly this (no charset).
    expect(r.headers['content-type']).toBe('application/json');
    const inspect = await suite.docker(['inspect', 'nothing-here']);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toContain('No such object: nothing-here');
    // A valid route of a feature Berth has not (swarm) answers as a swarm-less dockerd.
    const swarm = await suite.api('GET', '/v1.50/swarm');
    expect(swarm.status).toBe(503);
    expect(JSON.parse(swarm.body).message).toContain('This node is not a swarm manager');
  });

  it('lists no containers and no images on a new data root', async () => {
    expect((await suite.docker(['ps', '-aq'])).stdout).toBe('');
    expect((await suite.docker(['images', '-q'])).stdout).toBe('');
  });

  it('has README commands that point at what the build produces', async () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'berth']) {
      const files = [...scripts[name]!.matchAll(/\bnode (\S+\.js)/g)].map((m) => m[1]!);
      expect(files.length, name).toBeGreaterThan(0);
      for (const f of files) expect(existsSync(join(ROOT, f)), `${name}: ${f}`).toBe(true);
    }
    const status = await run('npm', ['run', '--silent', 'berth', '--', '--exec-root', suite.execRoot, 'status'], { cwd: ROOT });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^gateway\s+\d+/m);
  });
});
