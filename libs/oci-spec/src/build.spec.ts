import { describe, expect, it } from 'vitest';
import { buildSpec, capabilities, DEFAULT_CAPABILITIES, type SpecInput } from './index';

const input = (over: Partial<SpecInput> = {}): SpecInput => ({
  id: 'a'.repeat(64),
  args: ['sh'],
  env: ['PATH=/bin'],
  cwd: '/',
  user: { uid: 0, gid: 0 },
  hostname: 'aaaaaaaaaaaa',
  tty: false,
  network: { mode: 'none' },
  files: { hosts: '/x/hosts', resolvConf: '/x/resolv.conf', hostname: '/x/hostname' },
  ...over,
});

describe('capabilities', () => {
  it('follows Docker: defaults, add, drop, ALL', () => {
    expect(capabilities(false)).toEqual(DEFAULT_CAPABILITIES);
    expect(capabilities(false, ['net_admin'])).toContain('CAP_NET_ADMIN');
    expect(capabilities(false, [], ['chown'])).not.toContain('CAP_CHOWN');
    expect(capabilities(false, ['CHOWN'], ['ALL'])).toEqual(['CAP_CHOWN']);
    expect(() => capabilities(false, ['bogus'])).toThrow('unknown capability: "CAP_BOGUS"');
    expect(capabilities(false, ['ALL'], ['NET_RAW'], ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'])).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    expect(capabilities(true, [], [], ['CAP_CHOWN', 'CAP_SYS_ADMIN'])).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  });
});

describe('buildSpec', () => {
  it('writes Docker defaults', () => {
    const s = buildSpec(input());
    expect(s.root).toEqual({ path: 'rootfs', readonly: false });
    expect(s.mounts.map((m) => m.destination)).toEqual([
      '/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts',
    ]);
    expect(s.linux.maskedPaths).toContain('/proc/kcore');
    expect(s.linux.readonlyPaths).toContain('/proc/sys');
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(s.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.linux.seccomp?.syscalls.flatMap((r) => r.names)).not.toContain('mount');
    expect(s.process.capabilities.bounding).toEqual(DEFAULT_CAPABILITIES);
  });

  it('puts a remapped container in a user namespace, with the host /sys bound where sysfs cannot be mounted', () => {
    const ids = { uids: [{ containerID: 0, hostID: 100000, size: 65536 }], gids: [{ containerID: 0, hostID: 200000, size: 65536 }] };
    const s = buildSpec(input({ network: { mode: 'path', path: '/run/netns/x' }, idMappings: ids }));
    expect(s.linux.namespaces.map((n) => n.type)).toContain('user');
    expect(s.linux.uidMappings).toEqual(ids.uids);
    expect(s.linux.gidMappings).toEqual(ids.gids);
    expect(s.mounts.find((m) => m.destination === '/sys')).toMatchObject({ type: 'bind', source: '/sys' });
    expect(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options).not.toContain('ro');
    // With its own network namespace (made with the user namespace), sysfs can be mounted.
    expect(buildSpec(input({ idMappings: ids })).mounts.find((m) => m.destination === '/sys')?.type).toBe('sysfs');
    expect(buildSpec(input()).linux.uidMappings).toBeUndefined();
  });

  it('shares the host pid, ipc (with its /dev/shm) and uts namespaces, or a process\'s', () => {
    const host = buildSpec(input({ pid: { mode: 'host' }, ipc: { mode: 'host', shm: '/dev/shm' }, utsHost: true }));
    expect(host.linux.namespaces.map((n) => n.type)).toEqual(['mount', 'network']);
    expect(host.mounts.find((m) => m.destination === '/dev/shm')).toMatchObject({ type: 'bind', source: '/dev/shm' });
    expect(host.hostname).toBe('');
    const joined = buildSpec(input({ pid: { mode: 'path', path: '/proc/7/ns/pid' }, ipc: { mode: 'path', path: '/proc/7/ns/ipc' } }));
    expect(joined.linux.namespaces.filter((n) => n.path)).toEqual([{ type: 'pid', path: '/proc/7/ns/pid' }, { type: 'ipc', path: '/proc/7/ns/ipc' }]);
    expect(joined.mounts.find((m) => m.destination === '/dev/shm')?.type).toBe('tmpfs');
    expect(joined.hostname).toBe('aaaaaaaaaaaa');
  });

  it('gives a shareable container its own namespace with a host /dev/shm, and --ipc none no /dev/shm', () => {
    const shareable = buildSpec(input({ ipc: { mode: 'private', shm: '/data/c/shm' } }));
    expect(shareable.linux.namespaces.find((n) => n.type === 'ipc')).toEqual({ type: 'ipc' });
    expect(shareable.mounts.filter((m) => m.destination === '/dev/shm')).toEqual([expect.objectContaining({ type: 'bind', source: '/data/c/shm' })]);
    const none = buildSpec(input({ ipc: { mode: 'private', shm: false } }));
    expect(none.linux.namespaces.find((n) => n.type === 'ipc')).toEqual({ type: 'ipc' });
    expect(none.mounts.some((m) => m.destination === '/dev/shm')).toBe(false);
    expect(none.mounts.some((m) => m.destination === '/dev/mqueue')).toBe(true);
  });

  it('joins the host network and wraps the command with the init', () => {
    const s = buildSpec(input({ network: { mode: 'host' }, initBinary: '/usr/bin/tini-static' }));
    expect(s.linux.namespaces.some((n) => n.type === 'network')).toBe(false);
    expect(s.process.args).toEqual(['/sbin/docker-init', '--', 'sh']);
    expect(s.mounts.find((m) => m.destination === '/sbin/docker-init')?.source).toBe('/usr/bin/tini-static');
  });

  it('lifts blocks for added capabilities and drops seccomp for privileged', () => {
    expect(buildSpec(input({ capAdd: ['SYS_ADMIN'] })).linux.seccomp?.syscalls.flatMap((r) => r.names)).toContain('mount');
    const p = buildSpec(input({ privileged: true }));
    expect(p.linux.seccomp).toBeUndefined();
    expect(p.linux.maskedPaths).toEqual([]);
    expect(buildSpec(input({ seccomp: false })).linux.seccomp).toBeUndefined();
    expect(buildSpec(input({ noNewPrivileges: true })).process.noNewPrivileges).toBe(true);
  });
});
