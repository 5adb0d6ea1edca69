import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, run as runCmd, Suite } from '../support/berth';
import { packTar } from '@berth/tar';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers({ volumes: true });
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

  it('publishes volume events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await suite.docker(['volume', 'create', 'ev-vol']);
    await run(['--rm', '-v', 'ev-vol:/x', 'busybox', 'true']);
    await suite.docker(['volume', 'rm', 'ev-vol']);
    const ev = await suite.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}']);
    expect(ev.stdout.trim().split('\n').filter((l) => l.endsWith(' ev-vol'))).toEqual(['create ev-vol', 'mount ev-vol', 'unmount ev-vol', 'destroy ev-vol']);
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

describe('docker diff, export and cp', () => {
  it('lists added, changed and deleted files with docker diff, and exports the merged rootfs', async () => {
    await run(['--name', 'differ', 'busybox', 'sh', '-c', 'mkdir /new; echo x > /new/f; echo more >> /etc/passwd; rm /bin/true']);
    const diff = (await suite.docker(['diff', 'differ'])).stdout.trim().split('\n');
    expect(diff).toEqual(['C /bin', 'D /bin/true', 'C /etc', 'C /etc/passwd', 'A /new', 'A /new/f']);
    const tar = join(suite.base, 'export.tar');
    expect((await suite.docker(['export', '-o', tar, 'differ'])).code).toBe(0);
    const list = (await import('node:child_process')).execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).split('\n');
    expect(list).toContain('new/f');
    expect(list).toContain('bin/sh');
    expect(list).not.toContain('bin/true');
    expect((await suite.docker(['diff', 'nope-ctr'])).stderr).toContain('No such container: nope-ctr');
    await suite.docker(['rm', 'differ']);
  });

  it('round-trips a tree with symlinks, hardlinks, modes and owners through docker cp', async () => {
    const src = join(suite.base, 'cp-src', 'tree');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'file'), 'payload\n', { mode: 0o640 });
    chownSync(join(src, 'sub', 'file'), 1234, 5678);
    linkSync(join(src, 'sub', 'file'), join(src, 'hard'));
    symlinkSync('sub/file', join(src, 'link'));
    await run(['-d', '--name', 'cp-box', '-v', 'cp-vol:/vol', 'busybox', 'sleep', '1000']);
    expect((await suite.docker(['cp', '-a', src, 'cp-box:/tree'])).code).toBe(0);
    expect((await suite.docker(['cp', src, 'cp-box:/vol/'])).code).toBe(0);
    const inside = await suite.docker(['exec', 'cp-box', 'sh', '-c', 'stat -c "%n %a %u:%g %h" /tree/sub/file /tree/hard /vol/tree/sub/file; readlink /tree/link']);
    expect(inside.stdout).toBe('/tree/sub/file 640 1234:5678 2\n/tree/hard 640 1234:5678 2\n/vol/tree/sub/file 640 0:0 2\nsub/file\n');
    // Copied into the volume, so the snapshotter's data dir has it.
    expect(readFileSync(join(suite.dataRoot, 'volumes', 'cp-vol', '_data', 'tree', 'sub', 'file'), 'utf8')).toBe('payload\n');

    const back = join(suite.base, 'cp-back');
    mkdirSync(back);
    expect((await suite.docker(['cp', 'cp-box:/tree', back])).code).toBe(0);
    const f = statSync(join(back, 'tree', 'sub', 'file'));
    expect(f.mode & 0o7777).toBe(0o640);
    expect(statSync(join(back, 'tree', 'hard')).ino).toBe(f.ino);
    expect(readlinkSync(join(back, 'tree', 'link'))).toBe('sub/file');
    expect(readFileSync(join(back, 'tree', 'hard'), 'utf8')).toBe('payload\n');

    // Regression: the tail of an archive was lost when the stream was ended before the
    // writer's buffer drained; many entries and a few MiB make it show.
    await suite.docker(['exec', 'cp-box', 'sh', '-c', 'mkdir /many; i=0; while [ $i -lt 300 ]; do echo $i > /many/$i; i=$((i+1)); done; dd if=/dev/urandom of=/many/big bs=1M count=4 2>/dev/null']);
    expect((await suite.docker(['cp', 'cp-box:/many', back])).code).toBe(0);
    expect(readdirSync(join(back, 'many'))).toHaveLength(301);
    const sum = (await suite.docker(['exec', 'cp-box', 'md5sum', '/many/big'])).stdout.split(' ')[0];
    const { createHash } = await import('node:crypto');
    expect(createHash('md5').update(readFileSync(join(back, 'many', 'big'))).digest('hex')).toBe(sum);

    // A stopped container still shows its volumes.
    await suite.docker(['stop', '-t', '0', 'cp-box']);
    expect((await suite.docker(['cp', 'cp-box:/vol/tree/sub/file', join(back, 'from-stopped')])).code).toBe(0);
    expect(readFileSync(join(back, 'from-stopped'), 'utf8')).toBe('payload\n');
    const missing = await suite.docker(['cp', 'cp-box:/no/such', back]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Could not find the file /no/such in container cp-box');
    expect((await suite.api('HEAD', '/containers/cp-box/archive?path=/vol')).headers['x-docker-container-path-stat']).toBeTruthy();
    await suite.docker(['rm', '-v', 'cp-box']);
    await suite.docker(['volume', 'rm', 'cp-vol']);
  });

  it('never reads or writes a host file through a malicious container, even while it swaps paths', async () => {
    const host = join(suite.base, 'hostside');
    mkdirSync(host);
    writeFileSync(join(host, 'secret'), 'HOST SECRET\n');
    // Symlinks a careless engine would follow on the host: to /, up with .., and to the host dir.
    const script = [
      `ln -s / /escape; ln -s ../../../../../../.. /up; mkdir -p /work/real; echo inside > /work/real/secret`,
      `while :; do ln -sfn ${host} /work/dir; ln -sfn /work/real /work/dir; mv /work/real /work/r2; ln -s ${host} /work/real; rm /work/real; mv /work/r2 /work/real; done`,
    ].join('; ');
    await run(['-d', '--name', 'evil', 'busybox', 'sh', '-c', script]);
    await eventually(() => suite.docker(['exec', 'evil', 'ls', '/escape']), (r) => r.code === 0);

    // Static links resolve inside the container: /escape/etc/hostname is the container's.
    const hostname = (await suite.docker(['inspect', '--format', '{{.Config.Hostname}}', 'evil'])).stdout.trim();
    expect((await suite.docker(['cp', 'evil:/escape/etc/hostname', '-'])).stdout).toContain(hostname);
    const plant = join(suite.base, 'plant');
    writeFileSync(plant, 'planted\n');
    expect((await suite.docker(['cp', plant, 'evil:/up/tmp/'])).code).toBe(0);
    expect((await suite.docker(['exec', 'evil', 'cat', '/tmp/plant'])).stdout).toBe('planted\n');

    const out = join(suite.base, 'race-out');
    mkdirSync(out);
    for (let i = 0; i < 15; i++) {
      await suite.docker(['cp', plant, `evil:/work/dir/`]);
      await suite.docker(['cp', plant, `evil:/work/real/`]);
      const got = await suite.docker(['cp', 'evil:/work/dir/secret', '-']);
      expect(got.stdout).not.toContain('HOST SECRET');
      const got2 = await suite.docker(['cp', 'evil:/work/real/.', join(out, `r${i}`)]);
      // What was copied out is the container's own directory, never a link the CLI would follow on the host.
      if (got2.code === 0) {
        expect(lstatSync(join(out, `r${i}`)).isDirectory()).toBe(true);
        expect(readFileSync(join(out, `r${i}`, 'secret'), 'utf8')).toBe('inside\n');
      }
    }
    expect(readdirSync(host)).toEqual(['secret']);
    expect(readFileSync(join(host, 'secret'), 'utf8')).toBe('HOST SECRET\n');
    expect(lstatSync(join(host, 'secret')).uid).toBe(0);
    await suite.docker(['rm', '-f', 'evil']);
  });

  it('refuses writes to a read-only rootfs but not to its volumes, and survives a client that goes away', async () => {
    await run(['-d', '--name', 'ro-box', '--read-only', '-v', 'ro-vol:/v', 'busybox', 'sleep', '1000']);
    const file = join(suite.base, 'ro-file');
    writeFileSync(file, 'x');
    const denied = await suite.docker(['cp', file, 'ro-box:/']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('container rootfs is marked read-only');
    expect((await suite.docker(['cp', file, 'ro-box:/v/'])).code).toBe(0);
    // Regression: a download cut short crashed the supervisor (an unhandled stream error).
    const sup = suite.state().children.supervisor!.pid;
    await runCmd('sh', ['-c', `docker cp ro-box:/bin - | head -c 1000 > /dev/null`], { env: { DOCKER_HOST: suite.dockerHost } });
    await new Promise((r) => setTimeout(r, 500));
    expect(suite.state().children.supervisor!.pid).toBe(sup);
    expect((await suite.docker(['cp', 'ro-box:/v/ro-file', '-'])).code).toBe(0);
    await suite.docker(['rm', '-f', '-v', 'ro-box']);
    await suite.docker(['volume', 'rm', 'ro-vol']);
  });

  it('undoes the filesystem views a killed supervisor left mounted', async () => {
    const left = join(suite.execRoot, 'supervisor', 'roots', 'left-behind');
    mkdirSync(left, { recursive: true });
    expect((await runCmd('mount', ['-t', 'tmpfs', 'tmpfs', left])).code).toBe(0);
    const before = suite.state().children.supervisor!.pid;
    process.kill(before, 'SIGKILL');
    await eventually(async () => suite.state().children.supervisor!.pid, (p) => p !== before && p > 0);
    await eventually(async () => existsSync(left), (e) => !e);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(left);
    await eventually(() => suite.docker(['ps']), (r) => r.code === 0);
  });

  it('refuses archives with .., absolute or escaping link entries', async () => {
    await run(['-d', '--name', 'tarbox', 'busybox', 'sleep', '1000']);
    const put = async (entries: Parameters<typeof packTar>[0]) => {
      const body = await packTar(entries);
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const http = require('node:http') as typeof import('node:http');
        const req = http.request(
          { socketPath: suite.dockerHost.replace('unix://', ''), path: '/containers/tarbox/archive?path=/tmp', method: 'PUT', headers: { 'content-type': 'application/x-tar' } },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    };
    for (const bad of [
      [{ header: { name: '../../../escape' }, content: 'x' }],
      [{ header: { name: '/abs' }, content: 'x' }],
      [{ header: { name: 'hl', type: 'hardlink' as const, linkname: '../../etc/shadow' } }],
      [{ header: { name: 'sl', type: 'symlink' as const, linkname: '../../../../../../etc' } }],
    ]) {
      const r = await put(bad);
      expect(r.status).toBe(400);
      expect(r.body).toContain('refusing archive entry');
    }
    expect((await put([{ header: { name: 'ok/fine' }, content: 'y' }])).status).toBe(200);
    expect((await suite.docker(['exec', 'tarbox', 'cat', '/tmp/ok/fine'])).stdout).toBe('y');
    await suite.docker(['rm', '-f', 'tarbox']);
  });
});

describe('docker commit', () => {
  it('makes an image whose containers see exactly the added, changed and deleted files', async () => {
    await run([
      '-d', '--name', 'committer', 'busybox', 'sh', '-c',
      'mkdir /added; echo new > /added/f; echo changed >> /etc/passwd; rm /bin/true; rm -rf /root; mkdir /root; echo only > /root/only; dd if=/dev/urandom of=/added/big bs=1M count=4 2>/dev/null; md5sum /added/big > /added/big.md5; sleep 1000',
    ]);
    await eventually(() => suite.docker(['exec', 'committer', 'cat', '/added/big.md5']), (r) => r.code === 0 && r.stdout.length > 0);
    const diff = (await suite.docker(['diff', 'committer'])).stdout;
    expect(diff).toContain('D /bin/true');
    const commit = await suite.docker(['commit', '-m', 'a message', '-a', 'Tester <t@example.com>', '-c', 'CMD ["cat", "/added/f"]', '-c', 'ENV COMMITTED=yes', 'committer', 'committed:v1']);
    expect(commit.code).toBe(0);
    expect(commit.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    // --pause (the default) left it running.
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}}', 'committer'])).stdout.trim()).toBe('running');

    expect((await run(['--rm', 'committed:v1'])).stdout).toBe('new\n');
    const seen = await run(['--rm', 'committed:v1', 'sh', '-c', 'tail -1 /etc/passwd; ls /bin/true; echo $COMMITTED; ls -A /root']);
    expect(seen.stdout).toBe('changed\nyes\nonly\n');
    expect(seen.stderr).toContain('/bin/true: No such file or directory');
    expect((await run(['--rm', 'committed:v1', 'md5sum', '-c', '/added/big.md5'])).stdout).toBe('/added/big: OK\n');
    const img = JSON.parse((await suite.docker(['image', 'inspect', 'committed:v1'])).stdout) as { Author: string; Comment: string; RootFS: { Layers: string[] } }[];
    expect(img[0]).toMatchObject({ Author: 'Tester <t@example.com>', Comment: 'a message' });
    expect(img[0]!.RootFS.Layers).toHaveLength(2);

    // An image VOLUME becomes an anonymous volume, filled from the image at that path.
    expect((await suite.docker(['commit', '-c', 'VOLUME ["/added"]', 'committer', 'committed:vol'])).code).toBe(0);
    await run(['--name', 'vol-user', 'committed:vol', 'cat', '/added/f']);
    expect((await suite.docker(['logs', 'vol-user'])).stdout).toBe('new\n');
    const m = JSON.parse((await suite.docker(['inspect', '--format', '{{json .Mounts}}', 'vol-user'])).stdout) as { Type: string; Name: string; Destination: string }[];
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ Type: 'volume', Destination: '/added' });
    expect(existsSync(join(suite.dataRoot, 'volumes', m[0]!.Name, '_data', 'f'))).toBe(true);
    await suite.docker(['rm', '-v', 'vol-user']);
    expect(existsSync(join(suite.dataRoot, 'volumes', m[0]!.Name))).toBe(false);

    const ev = await suite.docker(['events', '--since', '1h', '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'event=commit', '--format', '{{.Type}} {{.Actor.Attributes.name}} {{.Actor.Attributes.comment}}']);
    expect(ev.stdout).toContain('container committer a message');

    const nope = await suite.docker(['commit', 'no-such-container', 'x:y']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain('No such container: no-such-container');
    const bad = await suite.docker(['commit', '-c', 'BOGUS x', 'committer']);
    expect(bad.code).toBe(1);
    await suite.docker(['rm', '-f', 'committer']);
  });
});

describe('sizes', () => {
  it('reports container and volume sizes in docker ps -s and docker system df -v', async () => {
    await run(['--name', 'sized', '-v', 'sized-vol:/v', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1024 count=3072 2>/dev/null; dd if=/dev/zero of=/v/x bs=1024 count=10 2>/dev/null']);
    const ps = JSON.parse((await suite.docker(['ps', '-a', '-s', '--filter', 'name=sized', '--format', '{{json .}}'])).stdout) as { Size: string };
    expect(ps.Size).toMatch(/^3\.1\dMB \(virtual \d+(\.\d+)?MB\)$/);
    const df = JSON.parse((await suite.api('GET', '/system/df')).body) as {
      Containers: { Names: string[]; SizeRw: number }[];
      Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
      Images: { RepoTags: string[]; Containers: number }[];
    };
    expect(df.Containers.find((c) => c.Names[0] === '/sized')!.SizeRw).toBeGreaterThanOrEqual(3 << 20);
    expect(df.Volumes.find((v) => v.Name === 'sized-vol')!.UsageData).toEqual({ Size: 10240, RefCount: 1 });
    expect(df.Images.find((i) => i.RepoTags.includes('busybox:latest'))!.Containers).toBeGreaterThanOrEqual(1);
    const verbose = await suite.docker(['system', 'df', '-v']);
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toMatch(/sized-vol\s+1\s+10\.24kB/);
    await suite.docker(['rm', '-v', 'sized']);
    await suite.docker(['volume', 'rm', 'sized-vol']);
  });
});
