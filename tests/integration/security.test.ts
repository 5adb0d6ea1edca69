import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, parseDockerSeccomp, resolveSeccomp, seccompVerdict } from '@berth/oci-spec';
import { run, Suite } from '../support/berth';
import { LocalRegistry } from '../support/registry';

let suite: Suite;
let probeRoot: string;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
  // The probe is the host's Python calling syscall(2) by number, run in a chroot made of the host's
  // /usr (busybox has no applet for most of these calls).
  probeRoot = join(suite.base, 'probe-root');
  mkdirSync(join(probeRoot, 'usr'), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(probeRoot, l));
  writeFileSync(join(probeRoot, 'probe.py'), PROBE);
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
});

const PROBE = `
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for label, nr, args in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    out[label] = 'allow' if r >= 0 else ctypes.get_errno()
print(json.dumps(out))
`;

const EPERM = 1;
const KEY_SPEC_SESSION_KEYRING = 2 ** 64 - 3;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;

/** [label, syscall name, x86-64 number, arguments]; refused ones answer something else without seccomp. */
type Probe = [string, string, number, number[]];
const REFUSED: Probe[] = [
  ['keyctl', 'keyctl', 250, [0, KEY_SPEC_SESSION_KEYRING, 0]],
  ['add_key', 'add_key', 248, [0, 0, 0, 0, 0]],
  ['request_key', 'request_key', 249, [0, 0, 0, 0]],
  ['socket(AF_VSOCK)', 'socket', 41, [40, 1, 0]],
  ['socket(AF_ALG)', 'socket', 41, [38, 5, 0]],
  ['personality(ADDR_NO_RANDOMIZE)', 'personality', 135, [0x0040000]],
  ['io_uring_setup', 'io_uring_setup', 425, [0, 0]],
];
/** Refused by seccomp and by the missing capability alike. */
const REFUSED_ANYWAY: Probe[] = [
  ['mount', 'mount', 165, [0, 0, 0, 0, 0]],
  ['clone(CLONE_NEWNET)', 'clone', 56, [CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0]],
  ['umount2', 'umount2', 166, [0, 0]],
];
const ALLOWED: Probe[] = [
  ['getpid', 'getpid', 39, []],
  ['uname', 'uname', 63, [0]],
  ['socket(AF_INET)', 'socket', 41, [2, 2, 0]],
  ['socket(AF_UNIX)', 'socket', 41, [1, 1, 0]],
  ['personality(query)', 'personality', 135, [0xffffffff]],
  ['personality(PER_LINUX32)', 'personality', 135, [8]],
];

async function probe(flags: string[], probes: Probe[]): Promise<Record<string, 'allow' | number>> {
  const r = await suite.docker([
    'run', '--rm', ...flags, '-v', `${probeRoot}:/host:ro`, '-v', '/usr:/host/usr:ro', 'busybox',
    'chroot', '/host', '/usr/bin/python3', '/probe.py', JSON.stringify(probes.map(([l, , nr, a]) => [l, nr, a])),
  ]);
  expect(r.code, r.stderr).toBe(0);
  // Only EPERM is the filter's answer; any other result (EFAULT for a NULL buffer) got past it.
  const raw = JSON.parse(r.stdout) as Record<string, 'allow' | number>;
  return Object.fromEntries(Object.entries(raw).map(([l, v]) => [l, v === EPERM ? EPERM : 'allow']));
}

/** Docker's own profile, kept beside the repository on development machines; CI's clean clone has none. */
function referenceProfile(): string | undefined {
  for (let dir = resolve(__dirname); dirname(dir) !== dir; dir = dirname(dir)) {
    const p = join(dir, 'shared', 'reference', 'seccomp-default.json');
    if (existsSync(p)) return p;
  }
  return undefined;
}

describe.runIf(process.arch === 'x64')('default seccomp profile', () => {
  it('refuses what Docker refuses and allows what it allows, as Docker\'s own profile says', async () => {
    const all = [...REFUSED, ...REFUSED_ANYWAY, ...ALLOWED];
    const seen = await probe([], all);
    const expected = Object.fromEntries([...REFUSED, ...REFUSED_ANYWAY].map(([l]) => [l, EPERM]).concat(ALLOWED.map(([l]) => [l, 'allow'])));
    expect(seen).toEqual(expected);
    const ref = referenceProfile();
    if (!ref) {
      console.log('security.test: shared/reference/seccomp-default.json not found above the repository; comparison with Docker\'s file skipped');
      return;
    }
    const docker = resolveSeccomp(parseDockerSeccomp(readFileSync(ref, 'utf8')), DEFAULT_CAPABILITIES, { arch: 'x64' });
    expect(Object.fromEntries(all.map(([l, name, , args]) => [l, seccompVerdict(docker, name, args)]))).toEqual(seen);
  });

  it('is the filter that refuses them: unconfined, the same calls get past it', async () => {
    const seen = await probe(['--security-opt', 'seccomp=unconfined'], [...REFUSED, ...ALLOWED]);
    for (const [l] of REFUSED) expect([l, seen[l]]).not.toEqual([l, EPERM]);
  });

  it('refuses a user namespace unless unconfined with CAP_SYS_ADMIN', async () => {
    const denied = await suite.docker(['run', '--rm', 'busybox', 'unshare', '-U', 'true']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Operation not permitted');
    const admin = await suite.docker(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'unshare', '-U', 'true']);
    expect(admin.code, admin.stderr).toBe(0);
    const ok = await suite.docker(['run', '--rm', '--security-opt', 'seccomp=unconfined', '--cap-add', 'SYS_ADMIN', 'busybox', 'unshare', '-U', 'true']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

const status = async (flags: string[], field: string) => {
  const r = await suite.docker(['run', '--rm', ...flags, 'busybox', 'grep', `^${field}:`, '/proc/self/status']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split(/\s+/)[1];
};

const hostBounding = () => /^CapBnd:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];

describe('--security-opt, capabilities, --privileged, --read-only', () => {
  it('applies a seccomp profile file the CLI sends, and refuses one that is not JSON with dockerd\'s 400', async () => {
    const file = join(suite.base, 'no-chmod.json');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO' }] }));
    const r = await suite.docker(['run', '--rm', '--security-opt', `seccomp=${file}`, 'busybox', 'chmod', '600', '/etc/hostname']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Operation not permitted');
    expect(await status(['--security-opt', `seccomp=${file}`], 'Seccomp')).toBe('2');
    const bad = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { SecurityOpt: ['seccomp=not json'] } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toBe("Decoding seccomp profile failed: invalid character 'o' in literal null (expecting 'u')");
  });

  it('takes no-new-privileges, label and apparmor, and refuses unknown options as dockerd does', async () => {
    expect(await status(['--security-opt', 'no-new-privileges'], 'NoNewPrivs')).toBe('1');
    expect(await status(['--security-opt', 'no-new-privileges=false'], 'NoNewPrivs')).toBe('0');
    expect(await status(['--security-opt', 'label=disable', '--security-opt', 'apparmor=unconfined', '--userns', 'host'], 'Seccomp')).toBe('2');
    const bad = await suite.docker(['run', '--rm', '--security-opt', 'foo=bar', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('invalid --security-opt 2: "foo=bar"');
  });

  it('adds and drops capabilities, ALL included, and names an unknown one', async () => {
    expect(await status(['--cap-drop', 'ALL', '--cap-add', 'CHOWN'], 'CapEff')).toBe('0000000000000001');
    expect(await status(['--cap-add', 'ALL'], 'CapEff')).toBe(hostBounding());
    expect(await status(['--cap-drop', 'NET_RAW'], 'CapEff')).toBe('00000000a80405fb');
    const bad = await suite.docker(['run', '--rm', '--cap-add', 'BOGUS', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('unknown capability: "CAP_BOGUS"');
  });

  it('gives a privileged container every capability, the host\'s devices, no seccomp and a writable /sys', async () => {
    const script = [
      'grep -E "^(CapEff|Seccomp):" /proc/self/status',
      'grep " /sys sysfs " /proc/mounts | cut -d" " -f4 | cut -d, -f1',
      'grep -c " /proc/sys " /proc/mounts',
      'ls /dev',
    ].join('; ');
    const r = await suite.docker(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out.slice(0, 4)).toEqual([`CapEff:\t${hostBounding()}`, 'Seccomp:\t0', 'rw', '0']);
    for (const dev of ['kmsg', 'loop0', 'tty0']) if (existsSync(`/dev/${dev}`)) expect(out).toContain(dev);
    const plain = await suite.docker(['run', '--rm', 'busybox', 'ls', '/dev']);
    expect(plain.stdout.split('\n')).not.toContain('kmsg');
  });

  it('keeps a --read-only root from being written', async () => {
    const r = await suite.docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Read-only file system');
  });
});

/** Every regular file under `dir` (sockets, links and special files skipped). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * The password in none of its forms in Redis (key by key), its append-only file or any file of the
 * engine's roots; `jobMark` is a word of the job's own data, which must have reached the AOF.
 */
async function expectNoSecretAtRest(password: string, jobMark: string): Promise<void> {
  const secrets = [password, Buffer.from(`berth:${password}`).toString('base64'), Buffer.from(password).toString('base64')];
  const sock = join(suite.execRoot, 'redis.sock');
  const keys = (await run('redis-cli', ['-s', sock, '--scan'])).stdout.trim().split('\n').filter(Boolean);
  expect(keys.some((k) => k.includes('images-pull'))).toBe(true);
  let dump = '';
  for (const k of keys) {
    const type = (await run('redis-cli', ['-s', sock, 'TYPE', k])).stdout.trim();
    const cmd = type === 'hash' ? ['HGETALL', k] : type === 'stream' ? ['XRANGE', k, '-', '+'] : type === 'string' ? ['GET', k] : type === 'list' ? ['LRANGE', k, '0', '-1'] : type === 'zset' ? ['ZRANGE', k, '0', '-1'] : type === 'set' ? ['SMEMBERS', k] : [];
    if (cmd.length) dump += (await run('redis-cli', ['-s', sock, ...cmd])).stdout;
  }
  // The append-only file logs every job's data as it was added; it is flushed once a second.
  await new Promise((r) => setTimeout(r, 2_000));
  const aof = filesUnder(join(suite.dataRoot, 'redis'));
  // The job's own data did reach the disk: where the password would be if it travelled with it.
  expect(aof.some((f) => readFileSync(f).includes(jobMark))).toBe(true);
  expect(dump.length).toBeGreaterThan(0);
  const onDisk = [...filesUnder(suite.dataRoot), ...filesUnder(suite.execRoot)].filter((f) => lstatSync(f).size < 64 * 1024 * 1024);
  for (const s of secrets) {
    expect(dump.includes(s), `Redis holds ${s}`).toBe(false);
    for (const f of onDisk) expect(readFileSync(f).includes(s), `${f} holds the password`).toBe(false);
  }
}

describe('registry credentials at rest', () => {
  it('keeps a login\'s password out of Redis, its files and every file of the engine', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const secure = await LocalRegistry.start({ user: 'berth', password });
    try {
      const name = `${secure.host}/private/secret-box:v1`;
      expect((await suite.docker(['tag', 'busybox', name])).code).toBe(0);
      const login = await suite.docker(['login', '-u', 'berth', '-p', password, secure.host]);
      expect(login.code, login.stderr).toBe(0);
      const pushed = await suite.docker(['push', name]);
      expect(pushed.code, pushed.stderr).toBe(0);
      expect((await suite.docker(['rmi', name])).code).toBe(0);
      const pulled = await suite.docker(['pull', name]);
      expect(pulled.code, pulled.stderr).toBe(0);
      await expectNoSecretAtRest(password, 'private/secret-box');
    } finally {
      await suite.docker(['logout', secure.host]);
      await secure.stop();
    }
  });

  it('a pull that meets a running pull of the same image keeps its own credentials: no or bad ones fail, good ones pull', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const secure = await LocalRegistry.start({ user: 'berth', password });
    const work = mkdtempSync('/tmp/bt-creds-');
    try {
      // A layer big enough that the three pulls below overlap: the later ones meet the first's job.
      writeFileSync(join(work, 'blob'), randomBytes(24 << 20));
      execFileSync('tar', ['-cf', join(work, 'big.tar'), '-C', work, 'blob']);
      const name = `${secure.host}/private/joined:v1`;
      const imported = await suite.docker(['import', join(work, 'big.tar'), name]);
      expect(imported.code, imported.stderr).toBe(0);
      // Three clients, three credential stores: logged in, wrong password, none at all.
      const config = (dir: string, auth?: string) => {
        mkdirSync(join(work, dir), { recursive: true });
        writeFileSync(join(work, dir, 'config.json'), JSON.stringify(auth ? { auths: { [secure.host]: { auth: Buffer.from(auth).toString('base64') } } } : {}));
        return { DOCKER_CONFIG: join(work, dir) };
      };
      const good = config('good', `berth:${password}`);
      const bad = config('bad', 'berth:not-the-password');
      const none = config('none');
      const pushed = await suite.docker(['push', name], { env: good });
      expect(pushed.code, pushed.stderr).toBe(0);
      expect((await suite.docker(['rmi', name])).code).toBe(0);
      const [g, b, n] = await Promise.all([
        suite.docker(['pull', name], { env: good }),
        new Promise((r) => setTimeout(r, 200)).then(() => suite.docker(['pull', name], { env: bad })),
        new Promise((r) => setTimeout(r, 200)).then(() => suite.docker(['pull', name], { env: none })),
      ]);
      expect(g.code, g.stderr).toBe(0);
      expect(g.stdout).toContain(`Status: Downloaded newer image for ${name}`);
      // dockerd's words for a registry that turns the client's credentials (or their absence) away.
      expect(b.code).toBe(1);
      expect(b.stderr).toMatch(/unauthorized|pull access denied/);
      expect(n.code).toBe(1);
      expect(n.stderr).toContain(`pull access denied for ${secure.host}/private/joined, repository does not exist or may require 'docker login'`);
      // The good client's image is whole.
      expect(Number((await suite.docker(['image', 'inspect', '--format', '{{.Size}}', name])).stdout.trim())).toBeGreaterThanOrEqual(24 << 20);
      await expectNoSecretAtRest(password, 'private/joined');
    } finally {
      await suite.docker(['rmi', '-f', `${secure.host}/private/joined:v1`]);
      rmSync(work, { recursive: true, force: true });
      await secure.stop();
    }
  });
});
