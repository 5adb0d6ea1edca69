import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';

// dockerd's --userns-remap=default: the daemon makes the `dockremap` user and its ranges.
let suite: Suite;
let hostDir: string;
beforeAll(async () => {
  suite = await Suite.startWithBusybox(['--userns-remap', 'default']);
  hostDir = mkdtempSync('/tmp/bt-userns-bind-');
  chmodSync(hostDir, 0o777);
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers({ volumes: true });
    await suite.stop();
  }
  if (hostDir) rmSync(hostDir, { recursive: true, force: true });
});

const range = (file: string) => {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('dockremap:'))!;
  const [, start, size] = line.split(':');
  return { start: Number(start), size: Number(size) };
};

describe('--userns-remap', () => {
  it('maps the container root onto dockremap\'s subordinate range, and says so in docker info', async () => {
    const uid = range('/etc/subuid');
    const gid = range('/etc/subgid');
    const r = await suite.docker(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number))).toEqual([
      [0, uid.start, uid.size],
      [0, gid.start, gid.size],
    ]);
    const info = JSON.parse((await suite.docker(['info', '--format', '{{json .SecurityOptions}}'])).stdout) as string[];
    expect(info).toContain('name=userns');
  });

  it('gives the remapped root the image\'s files, and runs its processes as that uid on the host', async () => {
    const uid = range('/etc/subuid').start;
    const r = await suite.docker(['run', '--rm', 'busybox', 'sh', '-c', 'stat -c %u:%g /bin/busybox /root; touch /root/made && echo wrote']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['0:0', '0:0', 'wrote']);
    await suite.docker(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '300']);
    const pid = Number((await suite.docker(['inspect', '--format', '{{.State.Pid}}', 'sleeper'])).stdout.trim());
    const uids = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    expect(Number(uids)).toBe(uid);
  });

  it('files made in a volume or a bind mount belong to the remapped uid on the host', async () => {
    const uid = range('/etc/subuid').start;
    const r = await suite.docker(['run', '--rm', '-v', 'remapvol:/data', '-v', `${hostDir}:/bound`, 'busybox', 'sh', '-c', 'touch /data/f /bound/g && stat -c %u /data']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('0');
    const mp = (await suite.docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'remapvol'])).stdout.trim();
    expect(statSync(join(mp, 'f')).uid).toBe(uid);
    expect(statSync(mp).uid).toBe(uid);
    expect(statSync(join(hostDir, 'g')).uid).toBe(uid);
  });

  it('--userns=host runs in the host namespace; privileged, host network and host pid need it, as dockerd says', async () => {
    const host = await suite.docker(['run', '--rm', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
    expect(host.stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
    const refuse = async (args: string[], message: string) => {
      const r = await suite.docker(['create', ...args, 'busybox', 'true']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`Error response from daemon: ${message}`);
    };
    await refuse(['--privileged'], 'privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
    await refuse(['--network', 'host'], "cannot share the host's network namespace when user namespaces are enabled");
    await refuse(['--pid', 'host'], 'cannot share the host PID namespace when user namespaces are enabled');
    // The CLI refuses other modes itself; the API says the same.
    const api = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { UsernsMode: 'private' } });
    expect(api.status).toBe(400);
    expect(JSON.parse(api.body).message).toBe('invalid USER mode: private');
    const priv = await suite.docker(['run', '--rm', '--privileged', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
    expect(priv.code, priv.stderr).toBe(0);
    expect(priv.stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
  });
});

describe('--userns-remap failures', () => {
  it('refuses to start for a user without subordinate ranges, with dockerd\'s error', async () => {
    const err = await Suite.start(['--userns-remap', 'nobody'], 30_000).then(
      async (s) => {
        await s.stop();
        return '';
      },
      (e: Error) => e.message,
    );
    expect(err).toContain('failed to start daemon: Can\'t create ID mappings: no subuid ranges found for user "nobody"');
  });
});
