import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packTar, type TarEntryType } from '@berth/tar';
import { Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

/**
 * Hostile uploads to every archive endpoint (load, import, cp), plain and compressed: each must
 * be answered, quickly, with a 4xx and a message, leaving no blob behind and every service up.
 * Issue 15: garbage, empty, short and truncated input hung `docker load` forever, a gzipped
 * 1 GiB member filled the disk, xz was refused everywhere.
 */

const LIMIT_BYTES = 32 << 20;
const DEADLINE_MS = 60_000;
const COMPRESSIONS = ['none', 'gzip', 'bzip2', 'xz', 'zstd'] as const;
type Compression = (typeof COMPRESSIONS)[number];

const TOOL_ARGS: Record<Exclude<Compression, 'none' | 'gzip'>, [string, string[]]> = {
  bzip2: ['bzip2', ['-1', '-c']],
  xz: ['xz', ['-0', '-c']],
  zstd: ['zstd', ['-1', '-q', '-c']],
};

function compress(data: Buffer, c: Compression): Buffer {
  if (c === 'none') return data;
  if (c === 'gzip') return gzipSync(data, { level: 1 });
  const [cmd, args] = TOOL_ARGS[c];
  return execFileSync(cmd, args, { input: data, maxBuffer: 256 << 20 });
}

/**
 * A 1 GiB member in a few KiB: every format here decompresses concatenated members as one
 * stream, so one compressed MiB of zeros repeated 1024 times is the member's content.
 */
function bomb(c: Exclude<Compression, 'none'>, memberName: string): Buffer {
  const size = 1 << 30;
  const header = packTarHeaderOnly(memberName, size);
  const mib = compress(Buffer.alloc(1 << 20), c);
  return Buffer.concat([compress(header, c), ...Array.from({ length: 1024 }, () => mib), compress(Buffer.alloc(1024), c)]);
}

/** A ustar header block for a regular file of `size` bytes (content to follow). */
function packTarHeaderOnly(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A small archive in memory from names, contents and link targets. */
function tarOf(entries: { name: string; content?: string; type?: TarEntryType; linkname?: string }[]): Promise<Buffer> {
  return packTar(entries.map((e) => ({ header: { name: e.name, type: e.type ?? 'file', linkname: e.linkname ?? '' }, content: e.content })));
}

interface Answer {
  status: number;
  body: string;
  hung: boolean;
}

let suite: Suite;
let fx: Awaited<ReturnType<typeof fixtures>>;
let container = '';
const counts = { tried: 0, '4xx': 0, '5xx': 0, hangs: 0, other: 0 };

/** One raw upload over the API socket; the answer, or `hung` past the deadline. */
function upload(method: string, path: string, body: Buffer): Promise<Answer> {
  counts.tried++;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (a: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (a.hung) counts.hangs++;
      else if (a.status >= 400 && a.status < 500) counts['4xx']++;
      else if (a.status >= 500) counts['5xx']++;
      else counts.other++;
      resolve(a);
    };
    const req = request(
      { socketPath: suite.dockerHost.replace('unix://', ''), path, method, headers: { 'content-type': 'application/x-tar', 'content-length': body.length } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => settle({ status: res.statusCode ?? 0, body: text, hung: false }));
        res.on('error', () => settle({ status: res.statusCode ?? 0, body: text, hung: false }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      settle({ status: 0, body: '', hung: true });
    }, DEADLINE_MS);
    // The server may answer and close before it has read a bad body: that is allowed.
    req.on('error', () => undefined);
    req.end(body);
  });
}

const ENDPOINTS: Record<'load' | 'import' | 'cp', () => [string, string]> = {
  load: () => ['POST', '/v1.41/images/load?quiet=1'],
  import: () => ['POST', '/v1.41/images/create?fromSrc=-&repo=hostile&tag=x'],
  cp: () => ['PUT', `/v1.41/containers/${container}/archive?path=/tmp`],
};
type Endpoint = keyof typeof ENDPOINTS;

/** A refusal: a 4xx whose JSON body carries a message. */
function expectRefused(a: Answer, what: string, message?: RegExp): void {
  expect(a.hung, `${what}: no answer within ${DEADLINE_MS} ms`).toBe(false);
  expect(a.status, `${what}: ${a.body}`).toBeGreaterThanOrEqual(400);
  expect(a.status, `${what}: ${a.body}`).toBeLessThan(500);
  const msg = (JSON.parse(a.body) as { message?: string }).message ?? '';
  expect(msg.length, `${what}: empty message`).toBeGreaterThan(0);
  if (message) expect(msg, what).toMatch(message);
}

const blobsDir = () => join(suite.dataRoot, 'images', 'content', 'blobs', 'sha256');
const ingestDir = () => join(suite.dataRoot, 'images', 'content', 'ingest');
const blobs = () => new Set(readdirSync(blobsDir()));
const pids = () => Object.fromEntries(Object.entries(suite.state().children).map(([k, v]) => [k, v.pid]));

let blobsBefore: Set<string>;
let pidsBefore: Record<string, number>;

beforeAll(async () => {
  fx = await fixtures();
  const base = execFileSync('mktemp', ['-d', '/tmp/bt-cfg-XXXXXX']).toString().trim();
  const cfg = join(base, 'daemon.json');
  writeFileSync(cfg, JSON.stringify({ 'max-upload-expanded-bytes': LIMIT_BYTES, 'registry-hosts': ['docker.io=http://127.0.0.1:9'] }));
  suite = await Suite.start(['--config', cfg]);
  execFileSync('rm', ['-rf', base]);
  const load = await suite.docker(['load', '-i', fx.busybox]);
  expect(load.code, load.stderr).toBe(0);
  const run = await suite.docker(['run', '-d', '--name', 'target', 'busybox', 'sleep', '3600']);
  expect(run.code, run.stderr).toBe(0);
  container = run.stdout.trim();
  blobsBefore = blobs();
  pidsBefore = pids();
});

afterAll(async () => {
  console.log(`archive uploads: ${counts.tried} tried, ${counts['4xx']} 4xx, ${counts['5xx']} 5xx, ${counts.hangs} hangs, ${counts.other} other`);
  await suite?.removeAllContainers();
  await suite?.stop();
});

describe('hostile archive uploads', () => {
  const saved = () => readFileSync(fx.busybox);
  const rootfs = () => readFileSync(fx.rootfs);
  /** Inputs that are not a whole archive, by name; each is also sent compressed. */
  const broken = (whole: Buffer): [string, Buffer][] => [
    ['garbage', Buffer.from('garbage')],
    ['empty', Buffer.alloc(0)],
    ['300 random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff))],
    ['600 bytes of 0x41', Buffer.alloc(600, 0x41)],
    ['1 MiB of text', Buffer.alloc(1 << 20, 'not a tar archive\n')],
    ...[1, 100, 511, 513, 3000, 10_001, Math.floor(whole.length / 3), Math.floor(whole.length / 2) + 7].map(
      (n): [string, Buffer] => [`truncated at ${n}`, whole.subarray(0, n)],
    ),
  ];

  for (const endpoint of ['load', 'import', 'cp'] as Endpoint[]) {
    it(`${endpoint}: garbage, empty, short and truncated input, plain and compressed, is refused at once`, async () => {
      const whole = endpoint === 'load' ? saved() : rootfs();
      for (const [name, data] of broken(whole)) {
        for (const c of COMPRESSIONS) {
          // An empty cp (even compressed) is an empty archive, which dockerd accepts too.
          if (endpoint === 'cp' && name === 'empty') continue;
          const [method, path] = ENDPOINTS[endpoint]();
          const a = await upload(method, path, compress(data, c));
          expectRefused(a, `${endpoint} ${name} (${c})`);
        }
      }
      // A whole compressed archive cut short: the decompressor itself runs out of input.
      for (const c of COMPRESSIONS.filter((x) => x !== 'none')) {
        const packed = compress(whole, c);
        for (const n of [10, Math.floor(packed.length / 2)]) {
          const [method, path] = ENDPOINTS[endpoint]();
          expectRefused(await upload(method, path, packed.subarray(0, n)), `${endpoint} ${c} cut at ${n}`, /unexpected EOF|invalid tar header/);
        }
      }
    });
  }

  it("words the failures as dockerd does", async () => {
    expectRefused(await upload('POST', '/v1.41/images/load', Buffer.from('garbage')), 'load garbage', /^Error processing tar file\(exit status 1\): unexpected EOF$/);
    expectRefused(await upload('POST', '/v1.41/images/load', Buffer.alloc(1024, 0x41)), 'load junk', /^Error processing tar file\(exit status 1\): archive\/tar: invalid tar header$/);
    const viaShell = execFileSync('sh', ['-c', 'printf garbage | docker load 2>&1 || true'], {
      env: { ...process.env, DOCKER_HOST: suite.dockerHost, DOCKER_CONFIG: join(suite.base, 'docker-config') },
      timeout: DEADLINE_MS,
    }).toString();
    expect(viaShell).toContain('Error response from daemon: Error processing tar file(exit status 1): unexpected EOF');
  });

  for (const c of ['gzip', 'bzip2', 'xz', 'zstd'] as const) {
    it(`a ${c} bomb (a 1 GiB member) stops at the configured limit on every endpoint`, async () => {
      for (const endpoint of ['load', 'import', 'cp'] as Endpoint[]) {
        const [method, path] = ENDPOINTS[endpoint]();
        expectRefused(await upload(method, path, bomb(c, endpoint === 'load' ? 'big.bin' : 'tmp/big.bin')), `${endpoint} ${c} bomb`, /expands to more than 33554432 bytes/);
      }
    });
  }

  it('refuses entries that escape: .., absolute paths, links out of the archive', async () => {
    const manifest = (layer: string) => ({ name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: [layer] }]) });
    const loads: [string, Buffer][] = [
      ['dot-dot', await tarOf([{ name: '../evil', content: 'x' }, manifest('../evil')])],
      ['absolute', await tarOf([{ name: '/etc/evil', content: 'x' }, manifest('/etc/evil')])],
      ['symlink out', await tarOf([{ name: 'config.json', content: '{}' }, { name: 'layer.tar', type: 'symlink', linkname: '../../../../etc/passwd' }, manifest('layer.tar')])],
    ];
    for (const [name, tar] of loads) expectRefused(await upload('POST', '/v1.41/images/load', tar), `load ${name}`);
    const cps: [string, Buffer][] = [
      ['dot-dot', await tarOf([{ name: '../../../../tmp/berth-escape-dotdot', content: 'x' }])],
      ['symlink out, then through it', await tarOf([{ name: 'out', type: 'symlink', linkname: '../../../../../tmp' }, { name: 'out/berth-escape-link', content: 'x' }])],
      ['hardlink out', await tarOf([{ name: 'h', type: 'hardlink', linkname: '../../../../etc/passwd' }])],
    ];
    for (const [name, tar] of cps) expectRefused(await upload('PUT', `/v1.41/containers/${container}/archive?path=/tmp`, tar), `cp ${name}`);
    expect(existsSync('/tmp/berth-escape-dotdot')).toBe(false);
    expect(existsSync('/tmp/berth-escape-link')).toBe(false);
    // An absolute name never reaches the host (dockerd extracts it inside; Berth refuses it).
    const abs = await upload('PUT', `/v1.41/containers/${container}/archive?path=/`, await tarOf([{ name: '/tmp/berth-absolute', content: 'inside' }]));
    expect(abs.hung).toBe(false);
    expect(abs.status, abs.body).toBeLessThan(500);
    expect(existsSync('/tmp/berth-absolute')).toBe(false);
  });

  it('leaves every service up, no blob behind, and lists working', async () => {
    expect(pids()).toEqual(pidsBefore);
    expect(readdirSync(ingestDir())).toEqual([]);
    expect([...blobs()].filter((b) => !blobsBefore.has(b))).toEqual([]);
    const images = await suite.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.code, images.stderr).toBe(0);
    expect(images.stdout.trim().split('\n')).toEqual(['busybox:latest']);
    const ps = await suite.docker(['ps', '-a', '--format', '{{.Names}}']);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.trim()).toBe('target');
    expect(counts.hangs).toBe(0);
    expect(counts['5xx']).toBe(0);
  });
});

describe('compressed archives that are whole', () => {
  for (const c of ['gzip', 'bzip2', 'xz', 'zstd'] as const) {
    it(`docker load -i of a ${c} docker save archive (seed 004 loads centos-latest.tar.xz)`, async () => {
      const file = join(suite.base, `busybox.tar.${c}`);
      writeFileSync(file, compress(readFileSync(fx.busybox), c));
      const r = await suite.docker(['load', '-i', file], { timeoutMs: DEADLINE_MS });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('Loaded image: busybox:latest');
    });
  }

  it('docker import of an xz rootfs (no Env, no Cmd) makes an image that runs', async () => {
    const file = join(suite.base, 'rootfs.tar.xz');
    writeFileSync(file, compress(readFileSync(fx.rootfs), 'xz'));
    const r = await suite.docker(['import', file, 'imported:xz'], { timeoutMs: DEADLINE_MS });
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse((await suite.docker(['image', 'inspect', 'imported:xz'])).stdout)[0];
    expect(cfg.Config.Env ?? null).toBeNull();
    const run = await suite.docker(['run', '--rm', 'imported:xz', '/bin/echo', 'hi'], { timeoutMs: DEADLINE_MS });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('hi\n');
    expect((await suite.docker(['rmi', 'imported:xz'])).code).toBe(0);
  });

  it('docker cp - of a zstd and a bzip2 archive extracts it', async () => {
    for (const c of ['zstd', 'bzip2'] as const) {
      const tar = await tarOf([{ name: `from-${c}.txt`, content: `packed with ${c}\n` }]);
      const a = await upload('PUT', `/v1.41/containers/${container}/archive?path=/tmp`, compress(tar, c));
      expect(a.status, a.body).toBe(200);
      expect((await suite.docker(['exec', 'target', 'cat', `/tmp/from-${c}.txt`])).stdout).toBe(`packed with ${c}\n`);
    }
  });
});
