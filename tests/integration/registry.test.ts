import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';
import { freePort, LocalRegistry, type PushedImage } from '../support/registry';

let suite: Suite;
let reg: LocalRegistry;
let fx: Awaited<ReturnType<typeof fixtures>>;
let busybox: PushedImage;
let layered: PushedImage;

beforeAll(async () => {
  [suite, reg, fx] = await Promise.all([Suite.start(), LocalRegistry.start(), fixtures()]);
  // Docker schema2 with gzip layers behind a manifest list; OCI with plain tar layers.
  busybox = await reg.pushArchive(fx.busybox, 'library/busybox', 'latest', { gzip: true, index: true });
  layered = await reg.pushArchive(fx.layered, 'fx/layered', 'v1');
});
afterAll(async () => {
  await suite?.stop();
  await reg?.stop();
});

const lines = (s: string) => s.split('\n').filter(Boolean);

describe('docker pull from a local registry', () => {
  it('pulls through a manifest list with Docker progress, records RepoDigests and runs', async () => {
    const name = `${reg.host}/library/busybox`;
    const r = await suite.docker(['pull', name]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe('Using default tag: latest');
    expect(out[1]).toBe('latest: Pulling from library/busybox');
    for (const l of busybox.layers) {
      const id = l.digest.slice(7, 19);
      expect(out).toContain(`${id}: Pulling fs layer`);
      expect(out).toContain(`${id}: Pull complete`);
    }
    expect(out.slice(-3)).toEqual([`Digest: ${busybox.digest}`, `Status: Downloaded newer image for ${name}:latest`, `${name}:latest`]);
    const img = JSON.parse((await suite.docker(['image', 'inspect', name])).stdout)[0];
    expect(img.Id).toBe(busybox.imageId);
    expect(img.RepoTags).toEqual([`${name}:latest`]);
    expect(img.RepoDigests).toEqual([`${name}@${busybox.digest}`]);
    const run = await suite.docker(['run', '--rm', '--network', 'none', name, 'echo', 'pulled']);
    expect(run.stdout).toBe('pulled\n');
    const again = await suite.docker(['pull', name]);
    expect(lines(again.stdout).slice(-2)).toEqual([`Status: Image is up to date for ${name}:latest`, `${name}:latest`]);
  });

  it('pulls by digest, and says "Already exists" for layers it has', async () => {
    const r = await suite.docker(['pull', `${reg.host}/library/busybox@${busybox.digest}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${busybox.digest}: Pulling from library/busybox`);
    // Same image, known already: up to date.
    expect(r.stdout).toContain('Status: Image is up to date for');
    const t = await suite.docker(['pull', `${reg.host}/fx/layered:v1`]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`${layered.layers[0]!.digest.slice(7, 19)}: Already exists`);
  });

  it('runs a multi-layer OCI image with its whiteouts applied', async () => {
    const name = `${reg.host}/fx/layered:v1`;
    const r = await suite.docker(['run', '--rm', '--network', 'none', name, 'sh', '-c', 'ls /data /data/dir; cat /data/replaced.txt; test -e /data/gone.txt || echo gone']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('gone.txt');
    expect(r.stdout).not.toContain('a.txt');
    expect(r.stdout).toContain('b.txt');
    expect(r.stdout).toContain('new');
    expect(r.stdout).toContain('gone\n');
  });

  it('answers a missing tag or repository with Docker errors', async () => {
    const tag = await suite.docker(['pull', `${reg.host}/library/busybox:nope`]);
    expect(tag.code).toBe(1);
    expect(tag.stderr).toContain(`manifest for ${reg.host}/library/busybox:nope not found: manifest unknown`);
    const port = await freePort();
    const down = await suite.docker(['pull', `127.0.0.1:${port}/x`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`Error response from daemon: Get "http://127.0.0.1:${port}/v2/x/manifests/latest": connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});
