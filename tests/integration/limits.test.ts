import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDir, cgroupSupport, cgroupVersion, onlineCpus } from '@berth/cgroups';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
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
});

const v1 = cgroupVersion() === '1';
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
    await api({ Memory: 'lots' }, 'json: cannot unmarshal string into Go struct field Resources.Memory of type int64');
    await api({ CgroupnsMode: 'sideways' }, 'invalid cgroup namespace mode: sideways');
    await api({ ShmSize: -1 }, 'SHM size can not be less than 0');
    await api({ Devices: [{ PathOnHost: '/dev/nope-nothing', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }] }, 'error gathering device information while adding custom device "/dev/nope-nothing"');
  });
});
