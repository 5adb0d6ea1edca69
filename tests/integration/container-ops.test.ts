import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, run, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// Shims of stopped containers exit after this much idle time: every test here also proves that
// a new shim is started whenever one is needed again (logs, attach, start, rm).
process.env.BERTH_SHIM_IDLE_MS = '300';

let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

/** The container's cgroup directories, under every hierarchy (cgroup v1 has one per controller, v2 one). */
const cgroupDirs = (id: string) =>
  ['', ...readdirSync('/sys/fs/cgroup')].map((h) => join('/sys/fs/cgroup', h, 'berth', id)).filter((d) => existsSync(d));

const state = async (name: string, fmt: string) => (await suite.docker(['inspect', '--format', fmt, name])).stdout.trim();

describe('streams: attach, logs -f, events', () => {
  it('attaches to a running container and returns its exit code', async () => {
    // Attach sees only output written after it connects; the container waits for a go file so a
    // slow CLI start on a loaded machine cannot miss the lines.
    await suite.docker(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'until [ -e /go ]; do sleep 0.05; done; echo tick; echo tock >&2; exit 2']);
    const attached = suite.docker(['attach', 'ticker']);
    await new Promise((r) => setTimeout(r, 3000));
    await suite.docker(['exec', 'ticker', 'touch', '/go']);
    const r = await attached;
    expect(r.stdout).toBe('tick\n');
    expect(r.stderr).toBe('tock\n');
    expect(r.code).toBe(2);
    const gone = await suite.docker(['attach', 'ticker']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('You cannot attach to a stopped container, start it first');
  });

  it('an attached client that stops reading holds neither the container, its wait nor its removal', async () => {
    // 8 MB is far more than the socket buffers between the monitor, the gateway and the client.
    await suite.docker(['run', '-d', '--name', 'stall', 'busybox', 'sh', '-c', 'until [ -e /go ]; do sleep 0.05; done; yes $(seq -s - 40) | head -c 8000000; exit 3']);
    const sock = await suite.stalledAttach('stall');
    try {
      await suite.docker(['exec', 'stall', 'touch', '/go']);
      const waited = await suite.docker(['wait', 'stall'], { timeoutMs: 60_000 });
      expect(waited.stdout.trim()).toBe('3');
      expect(await state('stall', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 3');
      const removed = await suite.docker(['rm', 'stall'], { timeoutMs: 60_000 });
      expect(removed.code).toBe(0);
    } finally {
      sock.destroy();
    }
  });

  it('follows logs until the container exits, with timestamps, --since and --tail', async () => {
    await suite.docker(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done']);
    const f = await suite.docker(['logs', '-f', '-t', 'talker']);
    const lines = f.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line 3$/);
    expect((await suite.docker(['logs', '--tail', '1', 'talker'])).stdout).toBe('line 3\n');
    expect((await suite.docker(['logs', '--since', '2999-01-01T00:00:00Z', 'talker'])).stdout).toBe('');
    const bad = await suite.docker(['logs', 'nosuchcontainer']);
    expect(bad.stderr).toContain('No such container: nosuchcontainer');
  });

  it('streams container and image events, with filters', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await suite.docker(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
    await suite.docker(['tag', 'busybox', 'busybox:evented']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await suite.docker(['events', '--since', String(since), '--until', String(until), '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    const mine = r.stdout.split('\n').filter((l) => l.endsWith(' evented') || l.startsWith('image tag'));
    expect(mine).toEqual(['container create evented', 'container start evented', 'container die evented', 'container destroy evented', 'image tag busybox:evented']);
    const filtered = await suite.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=image', '--format', '{{.Action}}']);
    expect(filtered.stdout.trim().split('\n')).toEqual(['tag']);
    await suite.docker(['rmi', 'busybox:evented']);
  });
});

describe('container options and housekeeping', () => {
  it('restarts by policy with a retry limit', async () => {
    await suite.docker(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1']);
    await eventually(() => state('flaky', '{{.RestartCount}} {{.State.Status}}'), (s) => s === '2 exited');
    expect(await state('flaky', '{{.State.ExitCode}}')).toBe('1');
    await suite.docker(['run', '-d', '--name', 'steady', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    await eventually(() => state('steady', '{{.RestartCount}}'), (s) => Number(s) >= 2);
    expect((await suite.docker(['stop', '-t', '1', 'steady'])).code).toBe(0);
    const count = await state('steady', '{{.RestartCount}}');
    await new Promise((r) => setTimeout(r, 1500));
    // A manual stop ends the policy's restarts.
    expect(await state('steady', '{{.RestartCount}} {{.State.Running}}')).toBe(`${count} false`);
    const bad = await suite.docker(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('cannot specify both --restart and --rm');
  });

  it('runs --init as pid 1, writes --cidfile, pauses and unpauses', async () => {
    const cidfile = join(suite.base, 'cid');
    const r = await suite.docker(['run', '-d', '--init', '--cidfile', cidfile, '--name', 'inited', 'busybox', 'sleep', '300']);
    expect(readFileSync(cidfile, 'utf8')).toBe(r.stdout.trim());
    const top = await suite.docker(['top', 'inited']);
    expect(top.stdout).toContain('docker-init');
    const ps = await suite.docker(['exec', 'inited', 'ps', '-o', 'pid,args']);
    expect(ps.stdout).toMatch(/\b1 \/sbin\/docker-init -- sleep 300/);
    expect((await suite.docker(['pause', 'inited'])).code).toBe(0);
    expect(await state('inited', '{{.State.Status}} {{.State.Paused}}')).toBe('paused true');
    expect((await suite.docker(['exec', 'inited', 'true'])).stderr).toContain('is paused, unpause the container before exec');
    expect((await suite.docker(['unpause', 'inited'])).code).toBe(0);
    expect(await state('inited', '{{.State.Status}}')).toBe('running');
    const again = await suite.docker(['run', '--cidfile', cidfile, 'busybox', 'true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain('container ID file found');
    await suite.docker(['rm', '-f', 'inited']);
    rmSync(cidfile);
  });

  it('filters ps and prunes stopped containers', async () => {
    await suite.docker(['run', '-d', '--name', 'keep', '--label', 'team=a', 'busybox', 'sleep', '300']);
    await suite.docker(['run', '--name', 'done0', 'busybox', 'true']);
    await suite.docker(['run', '--name', 'done3', '--label', 'team=b', 'busybox', 'sh', '-c', 'exit 3']);
    const names = async (...args: string[]) => (await suite.docker(['ps', ...args, '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();
    expect(await names('-a', '--filter', 'exited=3')).toEqual(['done3']);
    expect(await names('-a', '--filter', 'label=team')).toEqual(['done3', 'keep']);
    expect(await names('--filter', 'label=team=a')).toEqual(['keep']);
    expect(await names('-a', '--filter', 'status=exited', '--filter', 'name=done')).toEqual(['done0', 'done3']);
    expect(await names('-a', '--filter', 'ancestor=busybox', '--filter', 'name=keep')).toEqual(['keep']);
    const bad = await suite.docker(['ps', '--filter', 'status=sleeping']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid filter');
    const prune = await suite.docker(['container', 'prune', '-f', '--filter', 'label=team=b']);
    expect(prune.stdout).toContain('Deleted Containers:');
    expect(await names('-a', '--filter', 'name=done')).toEqual(['done0']);
    await suite.docker(['container', 'prune', '-f']);
    expect(await names('-a')).toEqual(['keep']);
    await suite.docker(['rm', '-f', 'keep']);
  });

  it('lets the shim of a stopped container exit, and starts one again when needed', async () => {
    const id = (await suite.docker(['run', '-d', '--name', 'napper', 'busybox', 'sh', '-c', 'echo zzz; exit 7'])).stdout.trim();
    const shimOf = async () => (await run('pgrep', ['-f', `dist/apps/shim/main.js --id ${id}`])).stdout.trim();
    await eventually(() => state('napper', '{{.State.Status}}'), (s) => s === 'exited');
    await eventually(shimOf, (pids) => pids === '');
    expect(await state('napper', '{{.State.ExitCode}}')).toBe('7');
    expect((await suite.docker(['logs', 'napper'])).stdout).toBe('zzz\n');
    expect((await suite.docker(['start', '-a', 'napper'])).stdout).toBe('zzz\n');
    await eventually(shimOf, (pids) => pids === '');
    expect((await suite.docker(['logs', 'napper'])).stdout).toBe('zzz\nzzz\n');
    expect((await suite.docker(['rm', 'napper'])).code).toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'utf8').includes(id)).toBe(false);
  });

  it('leaves no mount, shim or runtime state behind after rm -f of everything', async () => {
    for (const n of ['x1', 'x2', 'x3']) await suite.docker(['run', '-d', '--name', n, 'busybox', 'sleep', '300']);
    const ids = (await suite.docker(['ps', '-aq', '--no-trunc'])).stdout.trim().split('\n');
    // The check below can fail: while they run, each has its cgroup.
    for (const id of ids) expect(cgroupDirs(id).length).toBeGreaterThan(0);
    expect((await suite.docker(['rm', '-f', ...ids])).code).toBe(0);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const root of [suite.dataRoot, suite.execRoot]) expect(mounts.includes(root)).toBe(false);
    const shims = (await run('pgrep', ['-f', join(suite.execRoot, 'shims')])).stdout.trim();
    expect(shims).toBe('');
    for (const id of ids) {
      // The bundle goes just after the answer (removal-leftovers.test.ts).
      expect(await eventually(async () => existsSync(join(suite.execRoot, 'bundles', id)), (e) => !e, 15_000)).toBe(false);
      expect(cgroupDirs(id)).toEqual([]);
    }
    const runc = (await run('runc', ['--root', join(suite.execRoot, 'runtime', 'runc'), 'list', '-q'])).stdout.trim();
    expect(runc).toBe('');
  });

  it('clears the cgroups and runtime state of a container that exited by itself, and --rm leaves nothing', async () => {
    expect((await suite.docker(['run', '--name', 'x4', 'busybox', 'true'])).code).toBe(0);
    const id = await state('x4', '{{.Id}}');
    // The exit deletes the runtime's state (the monitor does what `runc delete` does, without runc):
    // soon after, nothing of the run is left but the record.
    const left = () => Promise.resolve([...cgroupDirs(id), ...[join(suite.execRoot, 'runtime', 'runc', id)].filter((d) => existsSync(d))]);
    expect(await eventually(left, (l) => l.length === 0)).toEqual([]);
    // It starts again from there.
    expect((await suite.docker(['start', '-a', 'x4'])).code).toBe(0);
    expect((await suite.docker(['rm', 'x4'])).code).toBe(0);
    const out = await suite.docker(['run', '--rm', '--name', 'x5', 'busybox', 'sh', '-c', 'echo last; exit 3']);
    expect([out.code, out.stdout]).toEqual([3, 'last\n']);
    expect((await suite.docker(['ps', '-aq', '--filter', 'name=x5'])).stdout.trim()).toBe('');
    const runc = (await run('runc', ['--root', join(suite.execRoot, 'runtime', 'runc'), 'list', '-q'])).stdout.trim();
    expect(runc).toBe('');
  });

  it('applies Docker defaults and run options to the process', async () => {
    const envFile = join(suite.base, 'env');
    writeFileSync(envFile, '# a comment\nB=from-file\n');
    const script = [
      'hostname',
      'echo $A $B',
      'pwd',
      'id -u; id -g',
      'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status',
      // Masked paths read as empty (a /dev/null bind or an empty tmpfs); which exist depends on the kernel.
      'for f in /proc/keys /proc/timer_list /proc/kcore /proc/sched_debug; do [ -e $f ] && echo "masked $(wc -c < $f)"; done',
      'ls /sys/firmware | wc -l',
      'echo x 2>/dev/null > /proc/sys/kernel/domainname || echo proc-sys-ro',
      'df -k /dev/shm | tail -1',
      'grep -c h1 /etc/hosts',
      'ls /dev/null /dev/zero /dev/urandom /dev/tty /dev/full /dev/random | wc -l',
    ].join('; ');
    const r = await suite.docker(['run', '--rm', '--hostname', 'h1', '-e', 'A=from-flag', '--env-file', envFile, '-w', '/tmp', '-u', '1000:1000', '--entrypoint', 'sh', 'busybox', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out.slice(0, 5)).toEqual(['h1', 'from-flag from-file', '/tmp', '1000', '1000']);
    // Docker's default capability set (no CAP_SYS_ADMIN, CAP_NET_ADMIN, ...), seccomp filtering.
    expect(out).toContain('CapEff:\t0000000000000000');
    expect(out).toContain('Seccomp:\t2');
    const masked = out.filter((l) => l.startsWith('masked '));
    expect(masked.length).toBe(['/proc/keys', '/proc/timer_list', '/proc/kcore', '/proc/sched_debug'].filter((f) => existsSync(f)).length);
    expect(new Set(masked)).toEqual(new Set(masked.length ? ['masked 0'] : []));
    expect(out[out.indexOf('Seccomp:\t2') + 1 + masked.length]).toBe('0');
    expect(out).toContain('proc-sys-ro');
    expect(out.find((l) => l.includes('/dev/shm'))).toMatch(/\s65536\s/);
    expect(out.slice(-2)).toEqual(['1', '6']);
    const root = await suite.docker(['run', '--rm', 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status']);
    expect(root.stdout.trim()).toBe('CapEff:\t00000000a80425fb');
  });

  it('stops with --stop-signal and keeps labels', async () => {
    await suite.docker(['run', '-d', '--name', 'trapper', '--stop-signal', 'USR1', '--stop-timeout', '5', '--label', 'tier=web', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 0" USR1; while true; do sleep 0.1; done']);
    expect(await state('trapper', '{{.Config.StopSignal}} {{.Config.StopTimeout}} {{index .Config.Labels "tier"}}')).toBe('USR1 5 web');
    expect((await suite.docker(['stop', 'trapper'])).code).toBe(0);
    expect((await suite.docker(['logs', 'trapper'])).stdout).toBe('got-usr1\n');
    expect(await state('trapper', '{{.State.ExitCode}}')).toBe('0');
    await suite.docker(['rm', 'trapper']);
  });
});
