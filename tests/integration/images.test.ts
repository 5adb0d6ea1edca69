import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

let suite: Suite;
let fx: Awaited<ReturnType<typeof fixtures>>;
beforeAll(async () => {
  [suite, fx] = await Promise.all([Suite.start(), fixtures()]);
});
afterAll(async () => {
  await suite?.stop();
});

describe('local images with the real docker CLI', () => {
  it('docker load records the image with its tag and layers', async () => {
    const r = await suite.docker(['load', '-i', fx.busybox]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('Loaded image: busybox:latest');
    const ls = await suite.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(ls.stdout).toMatch(/^busybox:latest [0-9a-f]{12}\n$/);
    const inspect = JSON.parse((await suite.docker(['image', 'inspect', 'busybox'])).stdout)[0];
    expect(inspect.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(inspect.RepoTags).toEqual(['busybox:latest']);
    expect(inspect.RootFS.Type).toBe('layers');
    expect(inspect.RootFS.Layers.length).toBeGreaterThan(0);
    expect(inspect.Os).toBe('linux');
    // Loading the same archive again is harmless.
    expect((await suite.docker(['load', '-i', fx.busybox])).stdout.trim()).toBe('Loaded image: busybox:latest');
    expect((await suite.docker(['images', '-q'])).stdout.trim().split('\n')).toHaveLength(1);
  });

  it('loads a multi-layer image with whiteouts', async () => {
    const r = await suite.docker(['load', '-i', fx.layered]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Loaded image: berth-fixtures/layered:latest');
    const layers = JSON.parse((await suite.docker(['image', 'inspect', 'berth-fixtures/layered'])).stdout)[0].RootFS.Layers;
    expect(layers.length).toBeGreaterThanOrEqual(3);
    const h = await suite.docker(['history', '-q', 'berth-fixtures/layered']);
    expect(h.code).toBe(0);
  });

  it('tags, untags and removes, with Docker conflicts', async () => {
    expect((await suite.docker(['tag', 'busybox', 'me/box:1'])).code).toBe(0);
    expect((await suite.docker(['tag', 'busybox', 'me/box:2'])).code).toBe(0);
    const id = (await suite.docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout.trim();
    const conflict = await suite.docker(['rmi', id.slice(7, 19)]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('must be forced');
    expect((await suite.docker(['rmi', 'me/box:1'])).stdout.trim()).toBe('Untagged: me/box:1');
    expect((await suite.docker(['rmi', 'me/box:2'])).stdout.trim()).toBe('Untagged: me/box:2');
    expect((await suite.docker(['image', 'inspect', 'busybox'])).code).toBe(0);
  });

  it('refuses a broken archive with a clear error and records nothing', async () => {
    const bad = join(suite.base, 'bad.tar');
    writeFileSync(bad, Buffer.alloc(1024, 7));
    const r = await suite.docker(['load', '-i', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid tar header|checksum|invalid archive/);
    const missing = await suite.docker(['image', 'inspect', 'nosuch:tag']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such image: nosuch:tag');
  });
});

describe('docker import', () => {
  it('makes a one-layer image from a rootfs tarball, with --change', async () => {
    const r = await suite.docker(['import', '--change', 'CMD ["echo","imported"]', '--change', 'ENV A=1', '-m', 'from a tarball', fx.rootfs, 'imported:v1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const cfg = JSON.parse((await suite.docker(['image', 'inspect', 'imported:v1'])).stdout)[0];
    expect(cfg.Config.Cmd).toEqual(['echo', 'imported']);
    expect(cfg.Config.Env).toEqual(['A=1']);
    expect(cfg.Comment).toBe('from a tarball');
    expect(cfg.RootFS.Layers).toHaveLength(1);
    const bad = await suite.docker(['import', '--change', 'FROB x', fx.rootfs, 'bad:v1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('FROB is not a valid change command');
  });
});
