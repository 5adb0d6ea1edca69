import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// The conmon monitor makes a new container's runtime container at create (Prepare), so that its
// first start only starts it. What a start runs must be what the container is at start: a spec
// changed since, a monitor killed meanwhile and a removal all leave nothing of the prepared one.
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

const conmon = process.env.BERTH_TEST_MONITOR !== 'shim';
const idOf = async (name: string) => (await suite.docker(['inspect', '--format', '{{.Id}}', name])).stdout.trim();

/** Host pids whose command line names the container (its conmon, and `runc init` under it). */
function processesOf(id: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(id) && cmd.startsWith('/usr/bin/conmon')) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

const mountsOf = (id: string) => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(id));

/** conmon is up for a created container: its runtime container is made. */
async function prepared(id: string): Promise<void> {
  if (!conmon) return;
  const found = await eventually(async () => processesOf(id).length, (n) => n > 0, 20_000);
  expect(found, 'a conmon for the created container').toBeGreaterThan(0);
  expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', id])).stdout.trim()).toBe('created 0');
}

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
