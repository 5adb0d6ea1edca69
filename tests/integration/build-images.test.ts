import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Suite } from '../support/berth';
import { BuildSuite, LONG } from '../support/build';
import { LocalRegistry } from '../support/registry';

let b: BuildSuite;
let s: Suite;
const context = (name: string, files: Record<string, string>) => b.context(name, files);

beforeAll(async () => {
  b = await BuildSuite.start('bt-build-images-');
  s = b.s;
}, 120_000);

afterAll(async () => {
  await b?.stop();
});

describe('docker build: scratch, --chown by name', () => {
  it('FROM scratch: COPY makes the first layer, the image runs; RUN without a shell and an empty build fail as dockerd', async () => {
    const ctx = context('scratch', {
      Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY hello.txt /data/deep/\nENTRYPOINT ["/bin/busybox"]\nCMD ["cat", "/data/deep/hello.txt"]\n',
      'hello.txt': 'hello from scratch\n',
    });
    copyFileSync('/bin/busybox', join(ctx, 'busybox'));
    const b = await s.docker(['build', '-t', 'scratchy:1', ctx], LONG);
    expect(b.stderr + b.stdout).toContain('Step 1/5 : FROM scratch');
    expect(b.code).toBe(0);
    const r = await s.docker(['run', '--rm', 'scratchy:1'], LONG);
    expect(r.stdout).toBe('hello from scratch\n');
    const layers = (await s.docker(['image', 'inspect', '--format', '{{len .RootFS.Layers}} {{.Os}}', 'scratchy:1'])).stdout.trim();
    expect(layers).toBe('2 linux');
    // Cached the second time, scratch included.
    const again = await s.docker(['build', '-t', 'scratchy:1', ctx], LONG);
    expect(again.stdout.match(/Using cache/g)?.length).toBe(4);

    const run = context('scratch-run', { Dockerfile: 'FROM scratch\nRUN echo hi\n' });
    const rr = await s.docker(['build', '-t', 'scratch-run:1', run], LONG);
    expect(rr.code).not.toBe(0);
    expect(rr.stderr + rr.stdout).toContain('"/bin/sh": stat /bin/sh: no such file or directory');
    expect((await s.docker(['image', 'inspect', 'scratch-run:1'])).code).not.toBe(0);
    const empty = context('scratch-empty', { Dockerfile: 'FROM scratch\n' });
    const re = await s.docker(['build', '-t', 'scratch-empty:1', empty], LONG);
    expect(re.code).not.toBe(0);
    expect(re.stderr).toContain('No image was generated. Is your Dockerfile empty?');
  });

  it('COPY/ADD --chown by name from the image, numbers mixed in; an unknown name fails with dockerd\'s message', async () => {
    const ctx = context('chown', {
      Dockerfile: [
        'FROM busybox',
        "RUN echo 'crew:x:4242:' >> /etc/group && echo 'sailor:x:4343:4242::/:/bin/sh' >> /etc/passwd",
        'COPY --chown=sailor:crew f.txt /named.txt',
        'ADD --chown=4343:0 f.txt /mixed.txt',
        'COPY --chown=nobody f.txt /lone.txt',
        'COPY --chown=sailor:crew dir /dir',
        'CMD stat -c "%n %u:%g" /named.txt /mixed.txt /lone.txt /dir/inner.txt',
        '',
      ].join('\n'),
      'f.txt': 'file\n',
      'dir/inner.txt': 'inner\n',
    });
    // The fixture busybox's /etc/group has a "nobody" group (65534) as its passwd has the user.
    const b = await s.docker(['build', '-t', 'chowned:1', ctx], LONG);
    expect(b.stderr).not.toContain('chown');
    expect(b.code).toBe(0);
    const r = await s.docker(['run', '--rm', 'chowned:1'], LONG);
    expect(r.stdout).toBe('/named.txt 4343:4242\n/mixed.txt 4343:0\n/lone.txt 65534:65534\n/dir/inner.txt 4343:4242\n');

    const bad = context('chown-bad', { Dockerfile: 'FROM busybox\nCOPY --chown=ghost f.txt /f.txt\n', 'f.txt': 'x\n' });
    const rb = await s.docker(['build', '-t', 'chown-bad:1', bad], LONG);
    expect(rb.code).not.toBe(0);
    expect(rb.stderr).toContain("unable to convert uid/gid chown string to host mapping: can't find uid for user ghost: no such user: ghost");
    const badGroup = context('chown-bad-group', { Dockerfile: 'FROM busybox\nCOPY --chown=root:ghosts f.txt /f.txt\n', 'f.txt': 'x\n' });
    const rg = await s.docker(['build', badGroup], LONG);
    expect(rg.stderr).toContain("can't find gid for group ghosts: no such group: ghosts");
    expect((await s.docker(['image', 'inspect', 'chown-bad:1'])).code).not.toBe(0);
  });

  it('keeps intermediate images as parents: hidden from docker images, shown by -a, pruned with the final image', async () => {
    const ctx = context('inter', { Dockerfile: 'FROM busybox\nRUN echo 1 > /a\nRUN echo 2 > /b\nCMD ["cat", "/a"]\n' });
    expect((await s.docker(['build', '-t', 'inter:1', ctx], LONG)).code).toBe(0);
    const ids = async (args: string[]) => (await s.docker(['images', '-q', '--no-trunc', ...args])).stdout.split('\n').filter(Boolean);
    const top = (await s.docker(['image', 'inspect', '--format', '{{.Id}}', 'inter:1'])).stdout.trim();
    const cmdParent = (await s.docker(['image', 'inspect', '--format', '{{.Parent}}', 'inter:1'])).stdout.trim();
    const run2 = cmdParent;
    const run1 = (await s.docker(['image', 'inspect', '--format', '{{.Parent}}', run2])).stdout.trim();
    const busybox = (await s.docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout.trim();
    expect((await s.docker(['image', 'inspect', '--format', '{{.Parent}}', run1])).stdout.trim()).toBe(busybox);
    expect(await ids([])).toContain(top);
    expect(await ids([])).not.toContain(run2);
    expect(await ids(['-a'])).toEqual(expect.arrayContaining([top, run2, run1]));
    const listed = (await s.docker(['images', '-a', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout;
    expect(listed).toContain(`<none>:<none> ${run2.slice(7, 19)}`);
    // not dangling: they are built on
    expect(await ids(['-f', 'dangling=true'])).not.toContain(run2);

    const rm = await s.docker(['rmi', run2]);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain(`conflict: unable to delete ${run2.slice(7, 19)} (cannot be forced) - image has dependent child images`);

    // A rebuild with a changed last step leaves the old final image dangling; prune takes it
    // alone (its parents are the new image's too).
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo 1 > /a\nRUN echo 2 > /b\nCMD ["cat", "/b"]\n');
    expect((await s.docker(['build', '-t', 'inter:1', ctx], LONG)).code).toBe(0);
    expect(await ids(['-f', 'dangling=true'])).toContain(top);
    const pruned = await s.docker(['image', 'prune', '-f']);
    expect(pruned.stdout).toContain(`deleted: ${top}`);
    expect(pruned.stdout).not.toContain(run2);
    expect(await ids(['-a'])).toContain(run2);

    // rmi of the final image takes its untagged parents along, stopping at the tagged base.
    const gone = await s.docker(['rmi', 'inter:1']);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toContain('Untagged: inter:1');
    expect(gone.stdout).toContain(`Deleted: ${run2}`);
    expect(gone.stdout).toContain(`Deleted: ${run1}`);
    expect(await ids(['-a'])).not.toContain(run1);
    expect(await ids([])).toContain(busybox);
    // The cache that named them misses now, and the build works again.
    const again = await s.docker(['build', '-t', 'inter:1', ctx], LONG);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('Using cache');
  });

  it('--cache-from reuses the steps of the named image\'s chain, even after builder prune, and only those', async () => {
    const ctx = context('cachefrom', { Dockerfile: 'FROM busybox\nENV STAGE=cf\nRUN echo one > /one\nCOPY f.txt /f.txt\nCMD ["cat", "/one"]\n', 'f.txt': 'cf\n' });
    expect((await s.docker(['build', '-t', 'cf:1', ctx], LONG)).code).toBe(0);
    // The build cache is emptied; cf:1 and its parents stay (tagged, and built on).
    expect((await s.docker(['builder', 'prune', '-af'])).code).toBe(0);
    const plain = await s.docker(['build', '-t', 'cf:plain', ctx], LONG);
    expect(plain.stdout).not.toContain('Using cache');
    const from = await s.docker(['build', '--cache-from', 'cf:1', '-t', 'cf:2', ctx], LONG);
    expect(from.code).toBe(0);
    expect(from.stdout.match(/Using cache/g)?.length).toBe(4);
    const id = async (ref: string) => (await s.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();
    expect(await id('cf:2')).toBe(await id('cf:1'));
    // Only the named chain counts: cf:plain's steps are in the local cache, but not under cf:1.
    writeFileSync(join(ctx, 'f.txt'), 'changed\n');
    const partial = await s.docker(['build', '--cache-from', 'cf:1', '--cache-from', 'nosuch:image', '-t', 'cf:3', ctx], LONG);
    expect(partial.code).toBe(0);
    expect(partial.stdout.match(/Using cache/g)?.length).toBe(2);
  });

  it('--cache-from a loaded or pulled image (no parents, only history) reuses its steps, as dockerd matches history', async () => {
    const ctx = context('cfload', {
      Dockerfile: 'FROM busybox\nENV STAGE=load\nCOPY f.txt /f.txt\nARG V=1\nRUN cat /f.txt > /g.txt && echo "$V" >> /g.txt\nLABEL cf=load\nCMD ["cat", "/g.txt"]\n',
      'f.txt': 'loaded\n',
    });
    const id = async (ref: string) => (await s.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();
    expect((await s.docker(['build', '-t', 'cfl:1', ctx], LONG)).code).toBe(0);
    const built = await id('cfl:1');
    // docker save, rmi (which takes the intermediate images with it), load: no parents, only history.
    const archive = join(b.dir, 'cfl.tar');
    expect((await s.docker(['save', '-o', archive, 'cfl:1'])).code).toBe(0);
    expect((await s.docker(['rmi', 'cfl:1'])).code).toBe(0);
    expect((await s.docker(['builder', 'prune', '-af'])).code).toBe(0);
    expect((await s.docker(['load', '-i', archive])).code).toBe(0);
    expect((await s.docker(['image', 'inspect', '--format', '{{.Parent}}', 'cfl:1'])).stdout.trim()).toBe('');

    // Without --cache-from a loaded image is no cache (dockerd's classic builder neither).
    const plain = await s.docker(['build', '-t', 'cfl:plain', ctx], LONG);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('Using cache');
    expect((await s.docker(['rmi', 'cfl:plain'])).code).toBe(0);
    expect((await s.docker(['builder', 'prune', '-af'])).code).toBe(0);

    const again = await s.docker(['build', '--cache-from', 'cfl:1', '-t', 'cfl:2', ctx], LONG);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/Using cache/g)?.length).toBe(6);
    expect(again.stdout).not.toContain('Running in');
    // The last step is the loaded image itself; the steps before it are images of their own.
    expect(await id('cfl:2')).toBe(built);
    expect((await s.docker(['run', '--rm', 'cfl:2'])).stdout).toBe('loaded\n1\n');
    const history = (await s.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'cfl:2'])).stdout;
    expect(history).toContain('COPY file:');

    // A changed RUN builds on the restored steps: the COPY's layer, taken from the loaded image, is there.
    const changed = await s.docker(['build', '--cache-from', 'cfl:1', '--build-arg', 'V=2', '-t', 'cfl:3', ctx], LONG);
    expect(changed.code).toBe(0);
    expect(changed.stdout.match(/Using cache/g)?.length).toBe(3);
    expect(changed.stdout).toContain('Running in');
    expect((await s.docker(['run', '--rm', 'cfl:3'])).stdout).toBe('loaded\n2\n');

    // An image whose history does not begin with the build's is no cache: busybox has none of these steps.
    const other = await s.docker(['build', '--cache-from', 'busybox', '--cache-from', 'nosuch:image', '-t', 'cfl:4', ctx], LONG);
    expect(other.code).toBe(0);
    expect(other.stdout).not.toContain('Using cache');

    // Pushed to a registry and pulled back (layers compressed now), the same.
    const reg = await LocalRegistry.start();
    try {
      const remote = `${reg.host}/cfl:1`;
      expect((await s.docker(['tag', 'cfl:1', remote])).code).toBe(0);
      expect((await s.docker(['push', remote], LONG)).code).toBe(0);
      for (const t of ['cfl:1', 'cfl:2', 'cfl:3', 'cfl:4', remote]) await s.docker(['rmi', t]);
      expect((await s.docker(['builder', 'prune', '-af'])).code).toBe(0);
      expect((await s.docker(['pull', remote], LONG)).code).toBe(0);
      const pulled = await s.docker(['build', '--cache-from', remote, '-t', 'cfl:5', ctx], LONG);
      expect(pulled.code).toBe(0);
      expect(pulled.stdout.match(/Using cache/g)?.length).toBe(6);
      expect(await id('cfl:5')).toBe(await id(remote));
      expect((await s.docker(['run', '--rm', 'cfl:5'])).stdout).toBe('loaded\n1\n');
    } finally {
      await reg.stop();
    }
  });
});
