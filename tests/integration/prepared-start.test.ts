import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';
import { bigFile, conmonMonitor, killService, leftovers, mountsOf, NOTHING_LEFT, prepared as prepareDone, processesOf } from '../support/prepared';

// The conmon monitor makes a new container's runtime container at create (Prepare), so that its
// first start only starts it. What a start runs must be what the container is at start: a spec
// changed since, a monitor killed meanwhile and a removal all leave nothing of the prepared one.
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

const conmon = conmonMonitor;
const idOf = async (name: string) => (await suite.docker(['inspect', '--format', '{{.Id}}', name])).stdout.trim();
const prepared = (id: string) => prepareDone(suite, id);

describe('a container prepared at create', () => {
  it('starts from what create made, with the files start writes', async () => {
    const c = await suite.docker(['create', '--name', 'prep-run', '--hostname', 'prep-host', 'busybox', 'sh', '-c', 'echo out; cat /etc/hostname; grep -c prep-host /etc/hosts']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(id);
    const r = await suite.docker(['start', '-a', 'prep-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('out\nprep-host\n1\n');
    expect((await suite.docker(['logs', 'prep-run'])).stdout).toBe('out\nprep-host\n1\n');
    // A second run is made at its start, as any restart.
    expect((await suite.docker(['start', '-a', 'prep-run'])).stdout).toBe('out\nprep-host\n1\n');
  });

  it('runs a spec changed after create (docker update), not the prepared one', async () => {
    const c = await suite.docker(['create', '--name', 'prep-update', '--memory', '64m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    expect(c.code, c.stderr).toBe(0);
    await prepared(c.stdout.trim());
    expect((await suite.docker(['update', '--memory', '96m', '--memory-swap', '200m', 'prep-update'])).code).toBe(0);
    const r = await suite.docker(['start', '-a', 'prep-update']);
    expect(r.stdout.trim(), r.stderr).toBe(String(96 * 1024 * 1024));
  });

  it('runs a spec changed while the prepare is on its way', async () => {
    const c = await suite.docker(['create', '--name', 'prep-race', '--memory', '64m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    expect(c.code, c.stderr).toBe(0);
    // No wait: the update lands while the monitor's `runc create` may still read the old spec.
    expect((await suite.docker(['update', '--memory', '80m', '--memory-swap', '160m', 'prep-race'])).code).toBe(0);
    const r = await suite.docker(['start', '-a', 'prep-race']);
    expect(r.stdout.trim(), r.stderr).toBe(String(80 * 1024 * 1024));
  });

  it('runs in the network namespace a disconnect and connect before the start gave it (as compose does)', async () => {
    expect((await suite.docker(['network', 'create', 'prep-net'])).code).toBe(0);
    const c = await suite.docker(['create', '--name', 'prep-net-web', '--network', 'prep-net', '-p', '127.0.0.1::80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/']);
    expect(c.code, c.stderr).toBe(0);
    await prepared(c.stdout.trim());
    expect((await suite.docker(['network', 'disconnect', 'prep-net', 'prep-net-web'])).code).toBe(0);
    expect((await suite.docker(['network', 'connect', 'prep-net', 'prep-net-web'])).code).toBe(0);
    expect((await suite.docker(['start', 'prep-net-web'])).code).toBe(0);
    const port = Number((await suite.docker(['port', 'prep-net-web', '80'])).stdout.trim().split(':').pop());
    // busybox httpd answers 404 for a directory without an index: an answer is what counts.
    const status = await eventually(
      () => new Promise<number>((resolve) => get({ host: '127.0.0.1', port, path: '/' }, (res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(0))),
      (code) => code > 0,
      20_000,
    );
    expect(status).toBe(404);
    await suite.docker(['rm', '-f', 'prep-net-web']);
    await suite.docker(['network', 'rm', 'prep-net']);
  });

  it('takes a docker cp right after create, while the prepare mounts the rootfs', async () => {
    const c = await suite.docker(['create', '--name', 'prep-cp', 'busybox', 'cat', '/copied']);
    expect(c.code, c.stderr).toBe(0);
    const src = join(mkdtempSync(join(tmpdir(), 'berth-prep-')), 'copied');
    writeFileSync(src, 'through cp\n');
    const cp = await suite.docker(['cp', src, 'prep-cp:/copied']);
    expect(cp.code, cp.stderr).toBe(0);
    const r = await suite.docker(['start', '-a', 'prep-cp']);
    expect(r.stdout, r.stderr).toBe('through cp\n');
    rmSync(dirname(src), { recursive: true, force: true });
  });

  it('starts only once a docker cp into it is done, as dockerd (its container lock) does', async () => {
    const c = await suite.docker(['create', '--name', 'prep-cp-start', 'busybox', 'sh', '-c', 'md5sum /big | cut -d" " -f1']);
    expect(c.code, c.stderr).toBe(0);
    await prepared(c.stdout.trim());
    // Large enough that the start below comes while the copy is still writing the file.
    const { dir, path: big, md5 } = bigFile(192, 'berth-prep-');
    const cp = suite.docker(['cp', big, 'prep-cp-start:/big']);
    await new Promise((r) => setTimeout(r, 400));
    const r = await suite.docker(['start', '-a', 'prep-cp-start']);
    expect((await cp).code).toBe(0);
    expect(r.stdout, r.stderr).toBe(`${md5}\n`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts after kill -9 of the monitor that prepared it', async () => {
    const c = await suite.docker(['create', '--name', 'prep-crash', 'busybox', 'echo', 'after the crash']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(id);
    if (conmon) {
      const mon = suite.monitorPid();
      expect(mon).toBeGreaterThan(0);
      // The start finds the monitor gone and starts one, which finds the prepared container.
      process.kill(mon, 'SIGKILL');
    }
    const r = await suite.docker(['start', '-a', 'prep-crash']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('after the crash\n');
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'prep-crash'])).stdout.trim()).toBe('exited 0');
  });

  it('leaves no process and no mount when it is removed before a start', async () => {
    const c = await suite.docker(['create', '--name', 'prep-rm', 'busybox', 'sleep', '300']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(id);
    expect((await suite.docker(['rm', 'prep-rm'])).code).toBe(0);
    expect(processesOf(id)).toEqual([]);
    expect(mountsOf(id)).toEqual([]);
    expect(await idOf('prep-rm')).toBe('');
  });
});

/** `docker rm` of a container that ran leaves nothing of it. */
async function removedCleanly(name: string, id: string): Promise<void> {
  const rm = await suite.docker(['rm', name]);
  expect(rm.code, rm.stderr).toBe(0);
  expect(leftovers(suite, id)).toEqual(NOTHING_LEFT);
}

describe('a container prepared at create, when a service dies before its start', () => {
  it('starts after kill -9 of the supervisor between the create and the start', async () => {
    const c = await suite.docker(['create', '--name', 'prep-sup', 'busybox', 'sh', '-c', 'echo from prep-sup; echo to stderr >&2; exit 3']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(id);
    await killService(suite, 'supervisor');
    // The monitor kept the prepared container; the supervisor started again knows nothing of it.
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}}', id])).stdout.trim()).toBe('created');
    const r = await suite.docker(['start', '-a', 'prep-sup']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('from prep-sup\n');
    expect(r.stderr).toBe('to stderr\n');
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim()).toBe('exited 3');
    await removedCleanly('prep-sup', id);
  });

  it('starts after kill -9 of the monitor while the prepare is on its way', async () => {
    const c = await suite.docker(['create', '--name', 'prep-mid', 'busybox', 'sh', '-c', 'echo from prep-mid; exit 5']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    // At once: the monitor is mounting the rootfs or has conmon running `runc create`.
    if (conmon) await suite.killMonitor();
    const r = await suite.docker(['start', '-a', 'prep-mid']);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toBe('from prep-mid\n');
    // One run, from one runtime container: whatever the killed prepare left was not run beside it.
    expect((await suite.docker(['logs', 'prep-mid'])).stdout).toBe('from prep-mid\n');
    expect(processesOf(id)).toEqual([]);
    await removedCleanly('prep-mid', id);
  });

  it('leaves nothing when it is removed without a start after kill -9 of the monitor that prepared it', async () => {
    const c = await suite.docker(['create', '--name', 'prep-kill-rm', 'busybox', 'sleep', '300']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await prepared(id);
    if (conmon) await suite.killMonitor();
    const rm = await suite.docker(['rm', 'prep-kill-rm']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(leftovers(suite, id)).toEqual(NOTHING_LEFT);
    expect(await idOf('prep-kill-rm')).toBe('');
  });

  it('leaves nothing when the monitor is killed during the prepare and the container removed without a start', async () => {
    const c = await suite.docker(['create', '--name', 'prep-mid-rm', 'busybox', 'sleep', '300']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    if (conmon) await suite.killMonitor();
    // A conmon the killed monitor had begun may still be making the runtime container.
    await new Promise((r) => setTimeout(r, 1_000));
    const rm = await suite.docker(['rm', 'prep-mid-rm']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(await eventually(async () => leftovers(suite, id), (l) => l.conmon.length === 0, 5_000)).toEqual(NOTHING_LEFT);
  });

  it('starts after kill -9 of the snapshotter right after the create', async () => {
    const c = await suite.docker(['create', '--name', 'prep-snap', 'busybox', 'sh', '-c', 'echo from prep-snap; ls /bin/busybox']);
    expect(c.code, c.stderr).toBe(0);
    const id = c.stdout.trim();
    await killService(suite, 'snapshotter');
    const r = await suite.docker(['start', '-a', 'prep-snap']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from prep-snap\n/bin/busybox\n');
    await removedCleanly('prep-snap', id);
  });
});
