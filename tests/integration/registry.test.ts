import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';
import { HostileRegistry, TOKEN_PASSWORD, TOKEN_USER } from '../support/hostile-registry';
import { freePort, LocalRegistry, type PushedImage } from '../support/registry';

let suite: Suite;
let reg: LocalRegistry;
let fx: Awaited<ReturnType<typeof fixtures>>;
let busybox: PushedImage;
let layered: PushedImage;
let hostile: HostileRegistry;

beforeAll(async () => {
  [suite, reg, fx] = await Promise.all([Suite.start(), LocalRegistry.start(), fixtures()]);
  // Docker schema2 with gzip layers behind a manifest list; OCI with plain tar layers.
  busybox = await reg.pushArchive(fx.busybox, 'library/busybox', 'latest', { gzip: true, index: true });
  layered = await reg.pushArchive(fx.layered, 'fx/layered', 'v1');
  hostile = await HostileRegistry.start(fx.busybox);
});
afterAll(async () => {
  await suite?.stop();
  await reg?.stop();
  await hostile?.stop();
});

const ingest = () => readdirSync(join(suite.dataRoot, 'images', 'content', 'ingest'));
const listed = async () => (await suite.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout;

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

  it('pulls every tag with --all-tags', async () => {
    await reg.pushArchive(fx.busybox, 'multi/tags', 'a', { gzip: true });
    await reg.pushArchive(fx.layered, 'multi/tags', 'b');
    const r = await suite.docker(['pull', '--all-tags', `${reg.host}/multi/tags`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('a: Pulling from multi/tags');
    expect(r.stdout).toContain('b: Pulling from multi/tags');
    expect((await suite.docker(['images', '--format', '{{.Tag}}', `${reg.host}/multi/tags`])).stdout.split('\n').filter(Boolean).sort()).toEqual(['a', 'b']);
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

  it('saves and pushes an image whose base layer was "Already exists" (never downloaded)', async () => {
    const name = `${reg.host}/fx/layered:v1`;
    const out = join(suite.base, 'layered.tar');
    const save = await suite.docker(['save', '-o', out, name]);
    expect(save.code, save.stderr).toBe(0);
    const push = await suite.docker(['push', `${reg.host}/fx/layered:v1`]);
    expect(push.code, push.stderr).toBe(0);
    // Its base layer went out as the blob of the same content that is here (busybox's gzip).
    const digest = /v1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)![1]!;
    expect(digest).not.toBe(layered.digest);
    expect((await reg.getManifest('fx/layered', digest)).status).toBe(200);
    const id = (await suite.docker(['image', 'inspect', '-f', '{{.Id}}', name])).stdout.trim();
    expect((await suite.docker(['rmi', '-f', id])).code).toBe(0);
    const load = await suite.docker(['load', '-i', out]);
    expect(load.code, load.stderr).toBe(0);
    const run = await suite.docker(['run', '--rm', '--network', 'none', name, 'cat', '/data/replaced.txt']);
    expect(run.stdout.trim()).toBe('new');
    // Put the registry's tag back the way the other tests expect it.
    await reg.pushArchive(fx.layered, 'fx/layered', 'v1');
  });

  it('answers a missing tag or repository with Docker errors', async () => {
    const tag = await suite.docker(['pull', `${reg.host}/library/busybox:nope`]);
    expect(tag.code).toBe(1);
    expect(tag.stderr).toContain(`manifest for ${reg.host}/library/busybox:nope not found: manifest unknown`);
    // `busybox` is docker.io/library/busybox:latest; the test suite sends Docker Hub to a dead port.
    const hub = await suite.docker(['pull', 'busybox']);
    expect(hub.code).toBe(1);
    expect(hub.stderr).toContain('Get "http://127.0.0.1:9/v2/library/busybox/manifests/latest"');
    const port = await freePort();
    const down = await suite.docker(['pull', `127.0.0.1:${port}/x`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`Error response from daemon: Get "http://127.0.0.1:${port}/v2/x/manifests/latest": connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});

describe('docker push', () => {
  it('pushes, skips what the registry has, mounts across repositories; rmi and pull back give the same id and digest', async () => {
    const name = `${reg.host}/me/box:v1`;
    expect((await suite.docker(['tag', `${reg.host}/library/busybox`, name])).code).toBe(0);
    const id = (await suite.docker(['image', 'inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const r = await suite.docker(['push', name]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`The push refers to repository [${reg.host}/me/box]`);
    // The layers were pulled from library/busybox on the same registry: mounted, not uploaded.
    expect(out.some((l) => /: Mounted from library\/busybox$/.test(l))).toBe(true);
    const m = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(out[out.length - 1]!);
    expect(m, r.stdout).not.toBeNull();
    const digest = m![1]!;
    expect((await reg.getManifest('me/box', 'v1')).digest).toBe(digest);
    const again = await suite.docker(['push', name]);
    expect(again.stdout).toContain('Layer already exists');

    // Another image whose layers live in another repository of the registry (mounted when this
    // host still knows where they came from; an earlier test reloaded it, which forgets that).
    await suite.docker(['load', '-i', fx.layered]);
    const up = await suite.docker(['tag', 'berth-fixtures/layered', `${reg.host}/up/layered:v2`]);
    expect(up.code).toBe(0);
    const pushed = await suite.docker(['push', `${reg.host}/up/layered:v2`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/: (Mounted from fx\/layered|Pushed)\n/);
    const upDigest = /v2: digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)![1]!;
    const upId = (await suite.docker(['image', 'inspect', '-f', '{{.Id}}', `${reg.host}/up/layered:v2`])).stdout.trim();

    expect((await suite.docker(['rmi', name])).code).toBe(0);
    expect((await suite.docker(['rmi', '-f', upId])).code).toBe(0);
    const back = await suite.docker(['pull', name]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`Digest: ${digest}`);
    expect((await suite.docker(['image', 'inspect', '-f', '{{.Id}}', name])).stdout.trim()).toBe(id);
    const back2 = await suite.docker(['pull', `${reg.host}/up/layered:v2`]);
    expect(back2.code, back2.stderr).toBe(0);
    expect(back2.stdout).toContain(`Digest: ${upDigest}`);
    expect((await suite.docker(['image', 'inspect', '-f', '{{.Id}}', `${reg.host}/up/layered:v2`])).stdout.trim()).toBe(upId);
    const run = await suite.docker(['run', '--rm', '--network', 'none', `${reg.host}/up/layered:v2`, 'cat', '/data/replaced.txt']);
    expect(run.stdout.trim()).toBe('new');
  });

  it('refuses to push a tag that does not exist', async () => {
    const r = await suite.docker(['push', `${reg.host}/nothing/here:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tag does not exist: ${reg.host}/nothing/here:v1`);
  });
});

describe('docker login against a registry with basic auth', () => {
  it('refuses anonymous access and a wrong password, then pushes and pulls once logged in', async () => {
    const secure = await LocalRegistry.start({ user: 'berth', password: 's3cret' });
    try {
      const name = `${secure.host}/private/box:v1`;
      await suite.docker(['tag', `${reg.host}/library/busybox`, name]);
      const anon = await suite.docker(['push', name]);
      expect(anon.code).toBe(1);
      expect(anon.stderr).toMatch(/denied|unauthorized/);
      const wrong = await suite.docker(['login', '-u', 'berth', '-p', 'nope', secure.host]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`login attempt to http://${secure.host}/v2/ failed with status: 401 Unauthorized`);
      const ok = await suite.docker(['login', '-u', 'berth', '-p', 's3cret', secure.host]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('Login Succeeded');
      const pushed = await suite.docker(['push', name]);
      expect(pushed.code, pushed.stderr).toBe(0);
      // A registry that has never seen the layer gets it uploaded.
      expect(pushed.stdout).toMatch(/: Pushed\n/);
      expect((await suite.docker(['rmi', name])).code).toBe(0);
      const pulled = await suite.docker(['pull', name]);
      expect(pulled.code, pulled.stderr).toBe(0);
      expect((await suite.docker(['logout', secure.host])).code).toBe(0);
      await suite.docker(['rmi', name]);
      const denied = await suite.docker(['pull', name]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain(`pull access denied for ${secure.host}/private/box, repository does not exist or may require 'docker login'`);
    } finally {
      await secure.stop();
    }
  });
});

describe('hostile registries', () => {
  it.each([
    ['bad-digest', /filesystem layer verification failed for digest sha256:[0-9a-f]{64}/],
    ['truncated', /sha256:[0-9a-f]{64}/],
    ['huge-manifest', /manifest for .* is too large/],
    ['garbage', /invalid manifest for .*: not JSON/],
    ['escape', /escapes the layer root/],
  ])('%s: a clear error, no image, nothing half-written', async (mode, message) => {
    const name = `${hostile.host}/${mode}/img:latest`;
    const r = await suite.docker(['pull', name]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await listed()).not.toContain(hostile.host);
    expect(ingest()).toEqual([]);
  });

  it('after a bad download, the next try from a good source works', async () => {
    const good = await suite.docker(['pull', `${hostile.host}/good/img:latest`]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('Status: Downloaded newer image');
    expect(await listed()).toContain(`${hostile.host}/good/img:latest`);
  });

  it('retries a blob that fails with 503, with backoff', async () => {
    const r = await suite.docker(['pull', `${hostile.host}/flaky/img:latest`]);
    expect(r.code, r.stderr).toBe(0);
    expect(hostile.blobGets.get(hostile.layerDigest('flaky', 'latest'))).toBe(2);
  });

  it('gets a Bearer token from the realm with the login credentials', async () => {
    const name = `${hostile.host}/token/img:latest`;
    const anon = await suite.docker(['pull', name]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain(`pull access denied for ${hostile.host}/token/img, repository does not exist or may require 'docker login'`);
    const wrong = await suite.docker(['login', '-u', TOKEN_USER, '-p', 'wrong', hostile.host]);
    expect(wrong.code).toBe(1);
    const login = await suite.docker(['login', '-u', TOKEN_USER, '-p', TOKEN_PASSWORD, hostile.host]);
    expect(login.code, login.stderr).toBe(0);
    const pulled = await suite.docker(['pull', name]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${name}`);
    expect((await suite.docker(['logout', hostile.host])).code).toBe(0);
  });

  it('two clients pulling the same image at once share one download', async () => {
    hostile.slow = true;
    const name = `${hostile.host}/slow/img:latest`;
    const [a, b] = await Promise.all([suite.docker(['pull', name]), suite.docker(['pull', name])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(hostile.blobGets.get(hostile.layerDigest('slow', 'latest'))).toBe(1);
  });

  it('a client that goes away does not stop its pull job', async () => {
    hostile.slow = true;
    const name = `${hostile.host}/slow/img:v3`;
    const r = await suite.docker(['pull', name], { timeoutMs: 800 });
    expect(r.code).not.toBe(0);
    const after = await eventually(listed, (l) => l.includes(name), 20_000);
    expect(after).toContain(name);
    expect(ingest()).toEqual([]);
  });

  it('a prune and collection during a pull leave the pull whole', async () => {
    hostile.slow = true;
    const name = `${hostile.host}/slow/img:v4`;
    const pulling = suite.docker(['pull', name]);
    await eventually(async () => hostile.blobGets.get(hostile.layerDigest('slow', 'v4')) ?? 0, (n) => n > 0);
    const prune = await suite.docker(['image', 'prune', '-af']);
    expect(prune.code, prune.stderr).toBe(0);
    const r = await pulling;
    expect(r.code, r.stderr).toBe(0);
    // Its layer snapshot survived: a container can be made on it.
    const c = await suite.docker(['create', '--network', 'none', name, 'true']);
    expect(c.code, c.stderr).toBe(0);
    expect((await suite.docker(['rm', c.stdout.trim()])).code).toBe(0);
  });

  /** A slow pull of slow/img:<tag> whose images service gets SIGKILL once the layer is flowing (after `afterMs`). */
  async function pullKilledMidway(tag: string, afterMs: number): Promise<{ name: string; code: number }> {
    const name = `${hostile.host}/slow/img:${tag}`;
    const pid = suite.state().children.images!.pid;
    hostile.slow = true;
    const pulling = suite.docker(['pull', name]);
    await eventually(async () => hostile.blobGets.get(hostile.layerDigest('slow', tag)) ?? 0, (n) => n > 0);
    await new Promise((r) => setTimeout(r, afterMs));
    process.kill(pid, 'SIGKILL');
    return { name, code: (await pulling).code };
  }

  it('kill -9 of images mid-pull leaves no half image, and the next pull completes', async () => {
    const { name, code } = await pullKilledMidway('v2', 300);
    expect(code).not.toBe(0);
    await eventually(() => suite.docker(['images', '-q']), (x) => x.code === 0, 20_000);
    expect(await listed()).not.toContain('slow/img:v2');
    expect(ingest()).toEqual([]);
    hostile.slow = false;
    const again = await suite.docker(['pull', name]);
    expect(again.code, again.stderr).toBe(0);
    expect(await listed()).toContain(`${hostile.host}/slow/img:v2`);
  });

  it('a pull whose images service was killed is run again by the next one, with nobody asking', async () => {
    // The restarted service loads its job queues only when Redis holds an unfinished job: this
    // is the case that must load them at start-up, not at the next pull.
    const { code } = await pullKilledMidway('v5', 0);
    expect(code).not.toBe(0);
    hostile.slow = false;
    const seen = await eventually(async () => (await listed()).includes(`${hostile.host}/slow/img:v5`), (x) => x, 60_000);
    expect(seen, 'the stalled pull ran again and finished').toBe(true);
  });
});

describe("Berth's own registry endpoint", () => {
  let served: Suite;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    served = await Suite.start(['--registry-listen', `127.0.0.1:${port}`]);
  });
  afterAll(async () => {
    await served?.stop();
  });

  it('takes a push from another Berth and serves it back to a pull, same id and digest', async () => {
    {
      const name = `localhost:${port}/served/layered:v1`;
      // Earlier tests may have pruned it.
      expect((await suite.docker(['pull', `${reg.host}/fx/layered:v1`])).code).toBe(0);
      expect((await suite.docker(['tag', `${reg.host}/fx/layered:v1`, name])).code).toBe(0);
      const id = (await suite.docker(['image', 'inspect', '-f', '{{.Id}}', name])).stdout.trim();
      const push = await suite.docker(['push', name]);
      expect(push.code, push.stderr).toBe(0);
      const digest = /v1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)![1]!;
      // The serving host has it under the repository's own name, unpacked and ready to run.
      const there = await served.docker(['image', 'inspect', '-f', '{{.Id}}', 'served/layered:v1']);
      expect(there.stdout.trim()).toBe(id);
      const run = await served.docker(['run', '--rm', '--network', 'none', 'served/layered:v1', 'cat', '/data/replaced.txt']);
      expect(run.stdout.trim()).toBe('new');
      const again = await suite.docker(['push', name]);
      expect(again.stdout).toContain('Layer already exists');

      expect((await suite.docker(['rmi', name])).code).toBe(0);
      const pull = await suite.docker(['pull', name]);
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout).toContain(`Digest: ${digest}`);
      const back = JSON.parse((await suite.docker(['image', 'inspect', name])).stdout)[0];
      expect(back.Id).toBe(id);
      expect(back.RepoDigests).toContain(`localhost:${port}/served/layered@${digest}`);
      const missing = await suite.docker(['pull', `localhost:${port}/served/layered:nope`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('manifest unknown');
    }
  });

  it('refuses bad uploads and manifests with OCI errors, and records nothing', async () => {
    const base = `http://127.0.0.1:${port}/v2/bad/img`;
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const loc = new URL(start.headers.get('location')!, base);
    loc.searchParams.set('digest', `sha256:${'0'.repeat(64)}`);
    const put = await fetch(loc, { method: 'PUT', body: 'not what the digest says' });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    const unknownBlob = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 },
      layers: [],
    };
    const m = await fetch(`${base}/manifests/v1`, { method: 'PUT', body: JSON.stringify(unknownBlob), headers: { 'Content-Type': unknownBlob.mediaType } });
    expect(m.status).toBe(400);
    expect(((await m.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('MANIFEST_BLOB_UNKNOWN');
    const garbage = await fetch(`${base}/manifests/v1`, { method: 'PUT', body: '{{{' });
    expect(garbage.status).toBe(400);
    const huge = await fetch(`${base}/manifests/v1`, { method: 'PUT', body: Buffer.alloc(5 << 20, 0x20) });
    expect(huge.status).toBe(400);
    expect((await fetch(`${base}/manifests/v1`)).status).toBe(404);
    expect((await fetch(`${base}/blobs/sha256:${'2'.repeat(64)}`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/v2/UPPER/manifests/x`)).status).toBe(404);
    expect((await served.docker(['images', '-q'])).stdout.trim()).not.toContain('\n');
    expect((await served.docker(['images', '--format', '{{.Repository}}'])).stdout).not.toContain('bad/img');
  });
});
