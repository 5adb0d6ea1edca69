import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDir, cgroupSupport, cgroupVersion, onlineCpus } from '@berth/cgroups';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, run, Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  let left: string[] = [];
  if (suite) {
    await suite.removeAllContainers();
    left = mountsUnder(suite.base);
    // Taken away so the roots can go, then reported below: a removed container leaves no mount.
    for (const m of [...left].reverse()) execFileSync('umount', ['-l', m]);
    await suite.stop();
  }
  // runc removes the container's cgroup, not the --cgroup-parent above it (neither does Docker).
  for (const h of ['', ...readdirSync('/sys/fs/cgroup')]) {
    try {
      rmdirSync(join('/sys/fs/cgroup', h, 'berth-test-parent'));
    } catch {
      // not in this hierarchy
    }
  }
  expect(left, 'mounts that outlived their containers').toEqual([]);
});

const v1 = cgroupVersion() === '1';
const mountsUnder = (base: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${base}/`));
const inspectJson = async (name: string) => JSON.parse((await suite.docker(['inspect', name])).stdout)[0] as { Id: string; HostConfig: Record<string, unknown> };
const cg = (id: string, controller: string, file: string) => readFileSync(`${cgroupDir(controller, `/berth/${id}`)}/${file}`, 'utf8').trim();

describe('resource flags reach the cgroup and inspect', () => {
  it("seed 001: --cpu-period/--cpu-quota read back inside the container", async () => {
    const r = await suite.docker(['run', '--rm', '--cpu-period=100000', '--cpu-quota=20000', 'busybox', 'sh', '-c',
      v1 ? 'cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us' : 'cat /sys/fs/cgroup/cpu.max']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split(/\s+/)).toEqual(v1 ? ['100000', '20000'] : ['20000', '100000']);
  });

  it('memory, cpu, pids, blkio, ulimits, oom score and shm flags are in the cgroup, the process and HostConfig', async () => {
    const args = ['run', '-d', '--name', 'limited', '-m', '64m', '--memory-swap', '128m', '--memory-reservation', '32m', '--cpus', '0.5',
      '--cpu-shares', '512', '--cpuset-cpus', '0', '--cpuset-mems', '0', '--pids-limit', '50', '--ulimit', 'nofile=1024:2048',
      '--oom-score-adj', '500', '--shm-size', '8m', '--oom-kill-disable=false'];
    if (cgroupSupport().memorySwappiness) args.push('--memory-swappiness', '10');
    if (cgroupSupport().blkioWeight) args.push('--blkio-weight', '300');
    const r = await suite.docker([...args, 'busybox', 'sleep', '300']);
    expect(r.code, r.stderr).toBe(0);
    const c = await inspectJson('limited');
    expect(c.HostConfig).toMatchObject({ Memory: 64 << 20, MemoryReservation: 32 << 20, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', CpusetMems: '0', PidsLimit: 50, OomScoreAdj: 500, ShmSize: 8 << 20 });
    expect(c.HostConfig.Ulimits).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    if (v1) {
      expect(cg(c.Id, 'memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
      expect(cg(c.Id, 'memory', 'memory.soft_limit_in_bytes')).toBe(String(32 << 20));
      if (cgroupSupport().swapLimit) expect(cg(c.Id, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(128 << 20));
      if (cgroupSupport().memorySwappiness) expect(cg(c.Id, 'memory', 'memory.swappiness')).toBe('10');
      expect(cg(c.Id, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(cg(c.Id, 'cpu', 'cpu.shares')).toBe('512');
    } else {
      expect(cg(c.Id, '', 'memory.max')).toBe(String(64 << 20));
      expect(cg(c.Id, '', 'cpu.max')).toBe('50000 100000');
    }
    expect(cg(c.Id, 'cpuset', 'cpuset.cpus')).toBe('0');
    expect(cg(c.Id, 'pids', 'pids.max')).toBe('50');
    const inside = await suite.docker(['exec', 'limited', 'sh', '-c', 'ulimit -n; ulimit -Hn; cat /proc/1/oom_score_adj; df -k /dev/shm | tail -1']);
    const [soft, hard, oom, shm] = inside.stdout.trim().split('\n');
    expect([soft, hard, oom]).toEqual(['1024', '2048', '500']);
    expect(shm).toMatch(/\s8192\s/);
  });

  it('--memory without --memory-swap allows as much swap again, as Docker does; -1 is unlimited', async () => {
    await suite.docker(['create', '--name', 'swapdefault', '-m', '32m', 'busybox', 'true']);
    expect((await inspectJson('swapdefault')).HostConfig.MemorySwap).toBe(64 << 20);
    await suite.docker(['create', '--name', 'swapunlimited', '-m', '32m', '--memory-swap', '-1', 'busybox', 'true']);
    expect((await inspectJson('swapunlimited')).HostConfig.MemorySwap).toBe(-1);
  });

  it('--device, --device-cgroup-rule, --cgroup-parent and --cgroupns', async () => {
    const r = await suite.docker(['run', '--rm', '--device', '/dev/null:/dev/xnull:rw', '--device-cgroup-rule', 'c 1:9 rwm', '--cgroupns', 'private',
      '--cgroup-parent', 'berth-test-parent', 'busybox', 'sh', '-c', 'ls -l /dev/xnull; echo hi > /dev/xnull && echo wrote; cat /proc/self/cgroup | head -3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^crw.* 1,\s+3 .*\/dev\/xnull/m);
    expect(r.stdout).toContain('wrote');
    // A private cgroup namespace shows the container's own cgroup as its root.
    expect(r.stdout).toMatch(/:\/$/m);
    await suite.docker(['create', '--name', 'nsdefault', 'busybox', 'true']);
    expect((await inspectJson('nsdefault')).HostConfig.CgroupnsMode).toBe(v1 ? 'host' : 'private');
  });

  it('--kernel-memory is accepted with the deprecation warning', async () => {
    // The CLI (28.x) still takes the flag; the API carries the value and the warning.
    expect((await suite.docker(['create', '--name', 'kmemcli', '--kernel-memory', '50m', 'busybox', 'true'])).code).toBe(0);
    const r = await suite.api('POST', '/containers/create?name=kmem', { Image: 'busybox', Cmd: ['true'], HostConfig: { KernelMemory: 50 << 20 } });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).Warnings).toContain('Specifying a kernel memory limit is deprecated and will be removed in a future release.');
    expect((await inspectJson('kmem')).HostConfig.KernelMemory).toBe(50 << 20);
  });
});

describe('impossible values get dockerd’s 400s', () => {
  const refuse = async (args: string[], message: string) => {
    const r = await suite.docker(['create', ...args, 'busybox', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Error response from daemon: ${message}`);
  };
  it('refuses memory below 6 MiB, too many CPUs, swap below memory, bad periods and weights', async () => {
    await refuse(['-m', '1k'], 'Minimum memory limit allowed is 6MB');
    const n = onlineCpus();
    await refuse(['--cpus', '999'], `Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
    if (cgroupSupport().swapLimit) await refuse(['--memory-swap', '1m', '-m', '10m'], 'Minimum memoryswap limit should be larger than memory limit, see usage');
    await refuse(['--memory-swap', '100m'], 'You should always set the Memory limit when using Memoryswap limit, see usage');
    await refuse(['-m', '10m', '--memory-reservation', '20m'], 'Minimum memory limit can not be less than memory reservation limit, see usage');
    await refuse(['--cpu-period', '100'], 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
    await refuse(['--cpu-quota', '100'], 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
    await refuse(['--cpus', '1', '--cpu-quota', '20000'], 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    await refuse(['--cpuset-cpus', '99'], 'Requested CPUs are not available - requested 99, available: ');
    await refuse(['--oom-score-adj', '1001'], 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
    if (cgroupSupport().blkioWeight) await refuse(['--blkio-weight', '5'], 'Range of blkio weight is from 10 to 1000');
    const api = async (hc: Record<string, unknown>, message: string) => {
      const raw = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: hc });
      expect(raw.status).toBe(400);
      expect(JSON.parse(raw.body).message).toContain(message);
    };
    await api({ DeviceCgroupRules: ['x 1:1 r'] }, "invalid device cgroup format 'x 1:1 r'");
    await api({ Memory: 'lots' }, 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
    await api({ CgroupnsMode: 'sideways' }, 'invalid cgroup namespace mode: sideways');
    await api({ ShmSize: -1 }, 'SHM size can not be less than 0');
    await api({ Devices: [{ PathOnHost: '/dev/nope-nothing', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }] }, 'error gathering device information while adding custom device "/dev/nope-nothing"');
  });
});

const ALLOCATE = 'x=a; while true; do x=$x$x; done';

describe('the OOM killer', () => {
  it('ends a container that outgrows -m with 137, State.OOMKilled and an oom event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await suite.docker(['run', '--name', 'hungry', '-m', '20m', '--memory-swap', '20m', 'busybox', 'sh', '-c', ALLOCATE]);
    expect(r.code).toBe(137);
    expect((await suite.docker(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hungry'])).stdout.trim()).toBe('true 137');
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await suite.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'container=hungry', '--format', '{{.Action}}']);
    expect(ev.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['oom', 'die']));
    // A kill that is not the OOM killer's is not an OOM.
    await suite.docker(['run', '-d', '--name', 'killed', '-m', '20m', 'busybox', 'sleep', '60']);
    await suite.docker(['kill', 'killed']);
    await suite.docker(['wait', 'killed']);
    expect((await suite.docker(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'killed'])).stdout.trim()).toBe('false 137');
  });

  it('is recorded when it happened while the supervisor was down', async () => {
    await suite.docker(['run', '-d', '--name', 'hungrylater', '-m', '20m', '--memory-swap', '20m', 'busybox', 'sh', '-c', `sleep 2; ${ALLOCATE}`]);
    const sup = suite.state().children.supervisor!;
    process.kill(sup.pid, 'SIGSTOP');
    try {
      // The shim records the exit on its own; the supervisor learns of it only when it is back.
      await new Promise((r) => setTimeout(r, 8000));
    } finally {
      // SIGKILL ends a stopped process too; a SIGCONT after it races the launcher's reaping (ESRCH).
      process.kill(sup.pid, 'SIGKILL');
    }
    const st = await eventually(
      async () => (await suite.docker(['inspect', '--format', '{{.State.Status}} {{.State.OOMKilled}} {{.State.ExitCode}}', 'hungrylater'])).stdout.trim(),
      (v) => v.startsWith('exited'),
      60_000,
    );
    expect(st).toBe('exited true 137');
  });
});

describe('docker stats', () => {
  it('shows about 20% CPU for a busy loop under --cpu-quota 20000, and sane memory, net, block and pids columns', async () => {
    await suite.docker(['run', '-d', '--name', 'spinner', '--cpu-period=100000', '--cpu-quota=20000', '-m', '64m', 'busybox', 'sh', '-c', 'while :; do :; done']);
    await new Promise((r) => setTimeout(r, 1500));
    const r = await suite.docker(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}']);
    expect(r.code, r.stderr).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith('spinner|'));
    expect(row, r.stdout).toBeDefined();
    const [, cpu, mem, net, block, pids] = row!.split('|');
    const pct = Number.parseFloat(cpu!);
    // A sanity bound, not a timing: the quota is 20% of one CPU.
    expect(pct).toBeGreaterThan(5);
    expect(pct).toBeLessThan(40);
    expect(mem).toMatch(/^[\d.]+[KMG]?i?B \/ 64MiB$/);
    expect(net).toMatch(/^[\d.]+k?M?B \/ [\d.]+k?M?B$/);
    expect(block).toMatch(/^[\d.]+k?M?B \/ [\d.]+k?M?B$/);
    expect(pids).toBe('1');
  });

  it('answers Docker\'s JSON: one sample, one-shot, a stream every second; 404 for an unknown container', async () => {
    const one = await suite.api('GET', '/containers/spinner/stats?stream=false');
    expect(one.status).toBe(200);
    const s = JSON.parse(one.body);
    expect(s.name).toBe('/spinner');
    expect(s.cpu_stats.online_cpus).toBe(onlineCpus());
    expect(s.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect(s.precpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect(s.cpu_stats.system_cpu_usage).toBeGreaterThan(s.precpu_stats.system_cpu_usage);
    expect(s.cpu_stats.throttling_data.throttled_periods).toBeGreaterThan(0);
    expect(s.memory_stats.limit).toBe(64 << 20);
    expect(s.memory_stats.usage).toBeGreaterThan(0);
    expect(s.networks.eth0.rx_bytes).toBeGreaterThanOrEqual(0);
    expect(s.pids_stats.current).toBe(1);
    expect(Array.isArray(s.blkio_stats.io_service_bytes_recursive)).toBe(true);
    const shot = JSON.parse((await suite.api('GET', '/containers/spinner/stats?stream=false&one-shot=true')).body);
    expect(shot.preread).toBe('0001-01-01T00:00:00Z');
    const py = await run('/usr/bin/python3', ['-c', [
      'import docker, sys',
      `c = docker.DockerClient(base_url="${suite.dockerHost}")`,
      'gen = c.containers.get("spinner").stats(decode=True)',
      'a = next(gen); b = next(gen)',
      'print(b["read"] > a["read"], b["precpu_stats"]["cpu_usage"]["total_usage"] == a["cpu_stats"]["cpu_usage"]["total_usage"])',
    ].join('\n')]);
    expect(py.stdout.trim(), py.stderr).toBe('True True');
    expect((await suite.api('GET', '/containers/nosuch/stats?stream=false')).status).toBe(404);
  });
});

describe('docker update', () => {
  it('changes a created container, then a running one at once, keeps it across restarts of the container and the supervisor', async () => {
    await suite.docker(['create', '--name', 'updated', 'busybox', 'sleep', '300']);
    const u1 = await suite.docker(['update', '--memory', '80m', '--memory-swap', '160m', '--cpus', '0.5', 'updated']);
    expect(u1.code, u1.stderr).toBe(0);
    let c = await inspectJson('updated');
    expect(c.HostConfig).toMatchObject({ Memory: 80 << 20, MemorySwap: 160 << 20, NanoCpus: 5e8 });
    await suite.docker(['start', 'updated']);
    expect(v1 ? cg(c.Id, 'memory', 'memory.limit_in_bytes') : cg(c.Id, '', 'memory.max')).toBe(String(80 << 20));
    const u2 = await suite.docker(['update', '--cpus', '0.25', '--pids-limit', '20', '--cpu-shares', '256', '--memory', '100m', '--memory-swap', '200m', '--restart', 'always', 'updated']);
    expect(u2.code, u2.stderr).toBe(0);
    c = await inspectJson('updated');
    expect(c.HostConfig).toMatchObject({ NanoCpus: 2.5e8, PidsLimit: 20, CpuShares: 256, Memory: 100 << 20, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } });
    const live = () => (v1 ? [cg(c.Id, 'cpu', 'cpu.cfs_quota_us'), cg(c.Id, 'pids', 'pids.max'), cg(c.Id, 'memory', 'memory.limit_in_bytes')] : [cg(c.Id, '', 'cpu.max').split(' ')[0], cg(c.Id, '', 'pids.max'), cg(c.Id, '', 'memory.max')]);
    expect(live()).toEqual(['25000', '20', String(100 << 20)]);
    await suite.docker(['restart', '-t', '0', 'updated']);
    expect(live()).toEqual(['25000', '20', String(100 << 20)]);
    const sup = suite.state().children.supervisor!;
    process.kill(sup.pid, 'SIGKILL');
    await eventually(() => suite.docker(['inspect', 'updated']), (r) => r.code === 0, 30_000);
    expect((await inspectJson('updated')).HostConfig).toMatchObject({ NanoCpus: 2.5e8, PidsLimit: 20 });
    await suite.docker(['restart', '-t', '0', 'updated']);
    expect(live()).toEqual(['25000', '20', String(100 << 20)]);
    // The first run's cleanup once killed the run that replaced it (its `runc delete --force` came
    // late), which the policy then restarted behind a removal's back, leaving its rootfs mounted.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await suite.docker(['inspect', '--format', '{{.State.Status}} {{.RestartCount}}', 'updated'])).stdout.trim()).toBe('running 0');
  });

  it("gives dockerd's errors: memory above the set swap, bad values, a removed container", async () => {
    await suite.docker(['run', '-d', '--name', 'upd2', '-m', '20m', 'busybox', 'sleep', '300']);
    const swap = await suite.docker(['update', '--memory', '100m', 'upd2']);
    expect(swap.stderr).toContain('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    const tiny = await suite.docker(['update', '--memory', '1k', 'upd2']);
    expect(tiny.stderr).toContain('Minimum memory limit allowed is 6MB');
    const api = await suite.api('POST', '/containers/upd2/update', { Memory: 'x' });
    expect(api.status).toBe(400);
    await suite.docker(['rm', '-f', 'upd2']);
    const gone = await suite.docker(['update', '--memory', '80m', 'upd2']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('No such container: upd2');
    expect((await suite.api('POST', '/containers/upd2/update', { Memory: 83886080 })).status).toBe(404);
  });
});

describe('docker info', () => {
  it('reports the cgroup driver, version, limit support and dockerd\'s warnings', async () => {
    const info = JSON.parse((await suite.docker(['info', '--format', '{{json .}}'])).stdout) as Record<string, unknown> & { Warnings: string[] | null };
    const sys = cgroupSupport();
    expect(info).toMatchObject({ CgroupDriver: 'cgroupfs', CgroupVersion: cgroupVersion(), MemoryLimit: sys.memoryLimit, SwapLimit: sys.swapLimit, CpuCfsQuota: sys.cpuCfs, CPUSet: sys.cpuset, PidsLimit: sys.pidsLimit, OomKillDisable: sys.oomKillDisable });
    expect((info.Warnings ?? []).includes('WARNING: No swap limit support')).toBe(!sys.swapLimit);
  });
});
