import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

let suite: Suite;
beforeAll(async () => {
  const [s, fx] = await Promise.all([Suite.start(), fixtures()]);
  suite = s;
  const load = await suite.docker(['load', '-i', fx.busybox]);
  if (load.code !== 0) throw new Error(load.stderr);
});
afterAll(async () => {
  if (suite) {
    const ids = (await suite.docker(['ps', '-aq'])).stdout.trim();
    if (ids) await suite.docker(['rm', '-f', '-v', ...ids.split('\n')]);
    // Option volumes (tmpfs) are mounts under the data root: prune unmounts them before the roots go.
    await suite.docker(['volume', 'prune', '-af']);
    await suite.stop();
  }
});

const run = (args: string[]) => suite.docker(['run', '--network', 'none', ...args]);

describe('docker volume', () => {
  it('walks through create, write, read from another container, survive the writer, refuse rm while used', async () => {
    expect((await suite.docker(['volume', 'create', '--label', 'app=walk', 'walk'])).stdout.trim()).toBe('walk');
    const inspect = JSON.parse((await suite.docker(['volume', 'inspect', 'walk'])).stdout) as Record<string, unknown>[];
    expect(inspect[0]).toMatchObject({
      Name: 'walk', Driver: 'local', Scope: 'local', Labels: { app: 'walk' }, Options: null,
      Mountpoint: join(suite.dataRoot, 'volumes', 'walk', '_data'),
    });
    expect(inspect[0]!.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    expect((await run(['--name', 'writer', '-v', 'walk:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f'])).code).toBe(0);
    expect((await suite.docker(['rm', 'writer'])).code).toBe(0);
    expect((await run(['--rm', '-v', 'walk:/data:ro', 'busybox', 'cat', '/data/f'])).stdout).toBe('kept\n');

    const holder = (await run(['-d', '--name', 'holder', '-v', 'walk:/data', 'busybox', 'sleep', '1000'])).stdout.trim();
    const rm = await suite.docker(['volume', 'rm', 'walk']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toContain(`remove walk: volume is in use - [${holder}]`);
    expect((await suite.api('DELETE', '/volumes/walk?force=1')).status).toBe(409);

    // The reference is the snapshotter's durable state: a kill -9 does not forget it.
    const before = suite.state().children.snapshotter!.pid;
    process.kill(before, 'SIGKILL');
    await eventually(async () => suite.state().children.snapshotter!.pid, (p) => p !== before && p > 0);
    const again = await eventually(() => suite.docker(['volume', 'rm', 'walk']), (r) => r.stderr.includes('volume is in use'));
    expect(again.code).toBe(1);

    const mounts = JSON.parse((await suite.docker(['inspect', '--format', '{{json .Mounts}}', 'holder'])).stdout) as unknown[];
    expect(mounts).toEqual([
      { Type: 'volume', Name: 'walk', Source: join(suite.dataRoot, 'volumes', 'walk', '_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    ]);
    expect((await suite.docker(['ps', '--filter', 'name=holder', '--format', '{{.Mounts}}'])).stdout.trim()).toBe('walk');
    expect((await suite.docker(['rm', '-f', 'holder'])).code).toBe(0);
    expect((await suite.docker(['volume', 'ls', '-q', '--filter', 'dangling=true', '--filter', 'label=app=walk'])).stdout.trim()).toBe('walk');
    expect((await suite.docker(['volume', 'rm', 'walk'])).code).toBe(0);
  });

  it('prunes anonymous volumes by default and every unused one with -a', async () => {
    await suite.docker(['volume', 'create', 'named-keep']);
    await suite.docker(['create', '--name', 'anon-user', '-v', '/scratch', 'busybox', 'true']);
    const anon = JSON.parse((await suite.docker(['inspect', '--format', '{{json .Mounts}}', 'anon-user'])).stdout) as { Name: string }[];
    expect(anon[0]!.Name).toMatch(/^[0-9a-f]{64}$/);
    expect((await suite.docker(['volume', 'inspect', '--format', '{{json .Labels}}', anon[0]!.Name])).stdout.trim()).toBe('{"com.docker.volume.anonymous":""}');
    // In use: prune leaves it.
    expect((await suite.docker(['volume', 'prune', '-f'])).stdout).not.toContain(anon[0]!.Name);
    await suite.docker(['rm', 'anon-user']);
    const prune = await suite.docker(['volume', 'prune', '-f']);
    expect(prune.stdout).toContain(anon[0]!.Name);
    expect(prune.stdout).not.toContain('named-keep');
    expect((await suite.docker(['volume', 'ls', '-q', '--filter', 'name=named-keep'])).stdout.trim()).toBe('named-keep');
    expect((await suite.docker(['volume', 'prune', '-af'])).stdout).toContain('named-keep');
  });

  it('removes anonymous volumes with rm -v and keeps named ones', async () => {
    await suite.docker(['create', '--name', 'rmv', '-v', '/anon', '-v', 'rmv-named:/named', 'busybox', 'true']);
    const names = (JSON.parse((await suite.docker(['inspect', '--format', '{{json .Mounts}}', 'rmv'])).stdout) as { Name: string }[]).map((m) => m.Name);
    expect((await suite.docker(['rm', '-v', 'rmv'])).code).toBe(0);
    const left = (await suite.docker(['volume', 'ls', '-q'])).stdout.split('\n');
    expect(left).toContain('rmv-named');
    expect(left).not.toContain(names.find((n) => n !== 'rmv-named'));
    await suite.docker(['volume', 'rm', 'rmv-named']);
  });

  it('answers bad requests the way Docker does', async () => {
    const bad = await suite.docker(['volume', 'create', 'no/slash']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"no/slash" includes invalid characters for a local volume name');
    expect((await suite.docker(['volume', 'create', '-o', 'bogus=1', 'v-opt'])).stderr).toContain('invalid option key: "bogus"');
    expect((await suite.docker(['volume', 'inspect', 'missing'])).stderr).toContain('get missing: no such volume');
    expect((await suite.api('DELETE', '/volumes/missing')).status).toBe(404);
    expect((await suite.api('DELETE', '/volumes/missing?force=1')).status).toBe(204);
    expect((await suite.api('POST', '/volumes/create', '{"Name": 3}')).status).toBe(400);
    expect((await suite.api('POST', '/volumes/create', { Name: 'x1', Driver: 'nfs' })).status).toBe(404);
    expect((await suite.api('GET', '/volumes?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D')).status).toBe(400);
  });

  it('mounts a tmpfs-backed local volume while used and unmounts it after', async () => {
    await suite.docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=4m', 'fast']);
    const r = await run(['--rm', '-v', 'fast:/fast', 'busybox', 'sh', '-c', 'grep " /fast " /proc/mounts']);
    expect(r.stdout).toMatch(/^tmpfs \/fast tmpfs rw.*size=4096k/);
    const mp = join(suite.dataRoot, 'volumes', 'fast', '_data');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${mp} `);
    expect((await suite.docker(['volume', 'rm', 'fast'])).code).toBe(0);
  });
});

describe('mounts on run/create', () => {
  it('gives Read-only file system on a read-only bind and creates a missing -v source', async () => {
    const host = join(suite.base, 'bind');
    mkdirSync(host);
    writeFileSync(join(host, 'in'), 'from host\n');
    const ro = await run(['--rm', '-v', `${host}:/h:ro`, 'busybox', 'sh', '-c', 'cat /h/in; echo x > /h/out']);
    expect(ro.code).toBe(1);
    expect(ro.stdout).toBe('from host\n');
    expect(ro.stderr).toContain('Read-only file system');
    expect(existsSync(join(host, 'out'))).toBe(false);
    const fresh = join(suite.base, 'made', 'by', 'v');
    expect((await run(['--rm', '-v', `${fresh}:/m`, 'busybox', 'touch', '/m/f'])).code).toBe(0);
    expect(existsSync(join(fresh, 'f'))).toBe(true);
  });

  it('refuses a missing bind source with --mount, with Docker\'s message', async () => {
    const missing = join(suite.base, 'nope');
    const r = await run(['--rm', '--mount', `type=bind,source=${missing},target=/x`, 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`invalid mount config for type "bind": bind source path does not exist: ${missing}`);
    expect(existsSync(missing)).toBe(false);
    const dup = await run(['--rm', '-v', 'dupvol:/d', '--tmpfs', '/d', 'busybox', 'true']);
    expect(dup.code).toBe(125);
    expect(dup.stderr).toContain('Duplicate mount point: /d');
  });

  it('fills a new named volume from the image, and an existing one hides the image path', async () => {
    const r = await run(['--rm', '-v', 'etcdata:/etc', 'busybox', 'sh', '-c', 'ls /etc']);
    expect(r.stdout).toContain('passwd');
    expect(existsSync(join(suite.dataRoot, 'volumes', 'etcdata', '_data', 'passwd'))).toBe(true);
    await suite.docker(['volume', 'create', 'notempty']);
    await run(['--rm', '-v', 'notempty:/x', 'busybox', 'touch', '/x/mine']);
    expect((await run(['--rm', '-v', 'notempty:/etc', 'busybox', 'ls', '/etc'])).stdout).toBe('mine\n');
    expect((await run(['--rm', '--mount', 'type=volume,src=nocopy-vol,dst=/etc,volume-nocopy', 'busybox', 'ls', '/etc'])).stdout).toBe('');
    await suite.docker(['volume', 'rm', 'etcdata', 'notempty', 'nocopy-vol']);
  });

  it('mounts tmpfs with size and mode, and writable mounts on a read-only root', async () => {
    const r = await run([
      '--rm', '--read-only', '--tmpfs', '/run:size=1m', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=2097152,tmpfs-mode=1770',
      'busybox', 'sh', '-c', 'touch /run/a /t/b && grep -E " /(run|t) " /proc/mounts && stat -c %a /t && touch /root-file',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/tmpfs \/t tmpfs rw,nosuid,nodev,noexec.*size=2048k,mode=1770/);
    expect(r.stdout).toMatch(/tmpfs \/run tmpfs rw,nosuid,nodev,noexec.*size=1024k/);
    expect(r.stdout).toContain('1770\n');
    expect(r.stderr).toContain('Read-only file system');
  });

  it('shares volumes with --volumes-from, read-only with :ro', async () => {
    await run(['--name', 'vf-src', '-v', 'vf-shared:/s', '-v', '/anon', 'busybox', 'sh', '-c', 'echo s > /s/f; echo a > /anon/g']);
    const r = await run(['--rm', '--volumes-from', 'vf-src:ro', 'busybox', 'sh', '-c', 'cat /s/f /anon/g; touch /s/n']);
    expect(r.stdout).toBe('s\na\n');
    expect(r.stderr).toContain('Read-only file system');
    // Through the API: on a 404 the CLI would go on to try a pull of the image, as it does with Docker.
    const missing = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { VolumesFrom: ['no-such-ctr'], NetworkMode: 'none' } });
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('No such container: no-such-ctr');
    await suite.docker(['rm', '-v', 'vf-src']);
    await suite.docker(['volume', 'rm', 'vf-shared']);
  });
});
