import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

let suite: Suite;
let fx: Awaited<ReturnType<typeof fixtures>>;
beforeAll(async () => {
  [suite, fx] = await Promise.all([Suite.start(), fixtures()]);
  for (const f of [fx.busybox, fx.layered]) expect((await suite.docker(['load', '-i', f])).code).toBe(0);
});
afterAll(async () => {
  await suite?.stop();
});

const blobs = () => readdirSync(join(suite.dataRoot, 'images', 'content', 'blobs', 'sha256'));
const ls = async (...args: string[]) => (await suite.docker(['images', '--format', '{{.Repository}}:{{.Tag}}', ...args])).stdout.trim().split('\n').filter(Boolean).sort();

describe('docker save', () => {
  it('writes a docker-archive with the OCI layout, and loads back to running images', async () => {
    const out = join(suite.base, 'both.tar');
    const r = await suite.docker(['save', '-o', out, 'busybox', 'berth-fixtures/layered:latest']);
    expect(r.code, r.stderr).toBe(0);
    const names = execFileSync('tar', ['-tf', out]).toString().split('\n').filter(Boolean);
    expect(names).toEqual(expect.arrayContaining(['blobs/', 'blobs/sha256/', 'index.json', 'manifest.json', 'oci-layout', 'repositories']));
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', out, 'manifest.json']).toString()) as { RepoTags: string[]; Layers: string[]; Config: string }[];
    expect(manifest.map((m) => m.RepoTags).flat().sort()).toEqual(['berth-fixtures/layered:latest', 'busybox:latest']);
    for (const m of manifest) for (const p of [m.Config, ...m.Layers]) expect(names).toContain(p);
    const index = JSON.parse(execFileSync('tar', ['-xOf', out, 'index.json']).toString()) as { manifests: { annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations['io.containerd.image.name']).sort()).toEqual(['docker.io/berth-fixtures/layered:latest', 'docker.io/library/busybox:latest']);
    const ids = (await suite.docker(['images', '-q', '--no-trunc'])).stdout.trim().split('\n').sort();

    expect((await suite.docker(['rmi', 'busybox', 'berth-fixtures/layered'])).code).toBe(0);
    expect(await ls()).toEqual([]);
    const load = await suite.docker(['load', '-i', out]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain('Loaded image: busybox:latest');
    expect((await suite.docker(['images', '-q', '--no-trunc'])).stdout.trim().split('\n').sort()).toEqual(ids);
    const run = await suite.docker(['run', '--rm', '--network', 'none', 'berth-fixtures/layered', 'cat', '/data/replaced.txt']);
    expect(run.stdout.trim()).toBe('new');

    // To stdout, one image by ID: no tags in it.
    const id = ids[0]!;
    const raw = execFileSync('docker', ['save', id.slice(7, 19)], { env: { ...process.env, DOCKER_HOST: suite.dockerHost }, maxBuffer: 64 << 20 });
    expect(raw.length).toBeGreaterThan(1024);
  });

  it('refuses an unknown image with Docker\'s error', async () => {
    const r = await suite.docker(['save', '-o', join(suite.base, 'x.tar'), 'nosuch:image']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No such image: nosuch:image');
  });
});

describe('docker image ls --filter', () => {
  it('filters by dangling, reference, label, before and since', async () => {
    const imp = async (tag: string, label: string) => {
      const r = await suite.docker(['import', '--change', `LABEL ${label}`, fx.rootfs, ...(tag ? [tag] : [])]);
      expect(r.code, r.stderr).toBe(0);
      await new Promise((res) => setTimeout(res, 1100));
      return r.stdout.trim();
    };
    await imp('me/first:1', 'tier=one');
    await imp('me/second:1', 'tier=two');
    const dangling = await imp('', 'tier=none');
    expect(await ls('--filter', 'dangling=true')).toEqual(['<none>:<none>']);
    expect((await suite.docker(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).stdout.trim()).toBe(dangling);
    expect(await ls('--filter', 'dangling=false')).not.toContain('<none>:<none>');
    expect(await ls('--filter', 'reference=me/*')).toEqual(['me/first:1', 'me/second:1']);
    expect(await ls('--filter', 'reference=me/first:*')).toEqual(['me/first:1']);
    expect(await ls('--filter', 'label=tier=two')).toEqual(['me/second:1']);
    expect(await ls('--filter', 'label=tier')).toHaveLength(3);
    expect(await ls('--filter', 'since=me/first:1', '--filter', 'label=tier')).toEqual(['<none>:<none>', 'me/second:1']);
    expect(await ls('--filter', 'before=me/second:1', '--filter', 'label=tier')).toEqual(['me/first:1']);
    const bad = await suite.docker(['images', '--filter', 'colour=blue']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("invalid filter 'colour'");
    const fmt = await suite.docker(['images', '--format', '{{json .}}', '--filter', 'reference=me/first']);
    expect(JSON.parse(fmt.stdout).Repository).toBe('me/first');
  });
});

describe('docker image prune and system df', () => {
  it('prunes dangling images, then unused ones with filters, keeping what containers use, and collects their blobs', async () => {
    const df = await suite.docker(['system', 'df']);
    expect(df.code, df.stderr).toBe(0);
    expect(df.stdout).toMatch(/^Images\s+5\s+0\s+/m);
    const dfv = await suite.docker(['system', 'df', '-v']);
    expect(dfv.stdout).toContain('Images space usage:');
    expect(dfv.stdout).toMatch(/busybox\s+latest/);

    const p = await suite.docker(['image', 'prune', '-f']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n/);
    expect(await ls('--filter', 'dangling=true')).toEqual([]);

    const byLabel = await suite.docker(['image', 'prune', '-af', '--filter', 'label=tier=one']);
    expect(byLabel.stdout).toContain('untagged: me/first:1');
    expect(await ls()).not.toContain('me/first:1');
    const recent = await suite.docker(['image', 'prune', '-af', '--filter', 'until=2000-01-01T00:00:00Z']);
    expect(recent.stdout.trim()).toBe('Total reclaimed space: 0B');

    const c = await suite.docker(['create', '--network', 'none', 'busybox', 'true']);
    expect(c.code, c.stderr).toBe(0);
    const all = await suite.docker(['image', 'prune', '-af']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('untagged: berth-fixtures/layered:latest');
    expect(all.stdout).not.toContain('untagged: busybox:latest');
    expect(all.stdout).toMatch(/Total reclaimed space: [1-9][\d.]*[kM]?B/);
    expect(await ls()).toEqual(['busybox:latest']);
    // Only busybox's config, manifest and layer are left in the content store.
    expect(blobs()).toHaveLength(3);
    const run = await suite.docker(['start', '-a', c.stdout.trim()]);
    expect(run.code, run.stderr).toBe(0);
    expect((await suite.docker(['rm', c.stdout.trim()])).code).toBe(0);
    await suite.docker(['image', 'prune', '-af']);
    expect(await ls()).toEqual([]);
    expect(blobs()).toEqual([]);
    const bad = await suite.docker(['image', 'prune', '-f', '--filter', 'colour=blue']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("invalid filter 'colour'");
  });
});
