/**
 * Pull benchmark (issue #4), reported as numbers, never asserted in tests:
 *   - `docker pull` of the same image from a local registry (Debian's docker-registry on
 *     loopback), Berth against a reference dockerd when one is installed, each run from a
 *     clean store (the image is removed, its layers collected, between runs);
 *   - unpack rate: uncompressed layer bytes over pull time, and over `docker load` time of
 *     the same image (no network, no gzip: the applier alone).
 * Usage: npx tsx tools/bench/pull-bench.ts [--runs 5] [--mib 64] [--no-reference]
 * The reference engine runs with its own data root, exec root and socket under /tmp.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { LocalRegistry, sha256 } from '../../tests/support/registry';
import { type Docker, numberOption, stats, timed, withReferenceEngine } from './common';

const RUNS = numberOption('--runs', 5);
const MIB = numberOption('--mib', 64);

function buildLayers(rootfsTar: string): { tars: Buffer[]; config: Buffer } {
  const dir = mkdtempSync('/tmp/berth-bench-pull-');
  try {
    mkdirSync(join(dir, 'data'));
    const files = Math.max(1, MIB / 4);
    for (let i = 0; i < files; i++) {
      const half = randomBytes(1 << 20);
      writeFileSync(join(dir, 'data', `f${i}.bin`), Buffer.concat([half, Buffer.from(randomBytes(3 << 19).toString('base64')).subarray(0, 3 << 20)]));
    }
    execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', join(dir, 'data.tar'), '-C', dir, 'data']);
    const tars = [readFileSync(rootfsTar), readFileSync(join(dir, 'data.tar'))];
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: { Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
        history: tars.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'berth bench' })),
      }),
    );
    return { tars, config };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pushImage(reg: LocalRegistry, repo: string, tars: Buffer[], config: Buffer): Promise<void> {
  const layers = [];
  for (const t of tars) {
    const gz = gzipSync(t, { level: 6 });
    layers.push({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: await reg.putBlob(repo, gz), size: gz.length });
  }
  const cfg = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: await reg.putBlob(repo, config), size: config.length };
  const mt = 'application/vnd.docker.distribution.manifest.v2+json';
  await reg.putManifest(repo, 'latest', { schemaVersion: 2, mediaType: mt, config: cfg, layers }, mt);
}

/** The same image as a `docker save` archive, for the load (unpack only) rate. */
function archive(tars: Buffer[], config: Buffer, path: string): void {
  const dir = mkdtempSync('/tmp/berth-bench-arch-');
  try {
    const name = (b: Buffer) => sha256(b).slice(7);
    for (const b of [config, ...tars]) writeFileSync(join(dir, name(b)), b);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: name(config), RepoTags: ['bench/load:latest'], Layers: tars.map(name) }]));
    execFileSync('tar', ['-cf', path, '-C', dir, '.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


async function measure(docker: Docker, name: string, tarPath: string): Promise<{ pull: number[]; load: number[] }> {
  const pull: number[] = [];
  const load: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    pull.push(
      await timed(async () => {
        const r = await docker(['pull', '-q', name]);
        if (r.code !== 0) throw new Error(r.stderr);
      }),
    );
    await docker(['rmi', name]);
    await docker(['image', 'prune', '-af']);
    load.push(
      await timed(async () => {
        const r = await docker(['load', '-q', '-i', tarPath]);
        if (r.code !== 0) throw new Error(r.stderr);
      }),
    );
    await docker(['rmi', 'bench/load:latest']);
    await docker(['image', 'prune', '-af']);
  }
  return { pull, load };
}

async function reference(name: string, tarPath: string): Promise<{ pull: number[]; load: number[] } | undefined> {
  return withReferenceEngine((docker) => measure(docker, name, tarPath), { timeoutMs: 300_000 });
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const { tars, config } = buildLayers(fx.rootfs);
  const bytes = tars.reduce((n, t) => n + t.length, 0);
  const reg = await LocalRegistry.start();
  const suite = await Suite.start();
  const tarPath = join(suite.base, 'bench-load.tar');
  try {
    await pushImage(reg, 'bench/pull', tars, config);
    archive(tars, config, tarPath);
    const name = `${reg.host}/bench/pull:latest`;
    const berth = await measure((a) => suite.docker(a, { timeoutMs: 300_000 }), name, tarPath);
    const ref = await reference(name, tarPath);
    const mbps = (ms: number) => bytes / 1e6 / (ms / 1000);
    const summary = (r: { pull: number[]; load: number[] }) => {
      const p = stats(r.pull);
      const l = stats(r.load);
      return { pullMs: p, pullMBps: mbps(p.median), loadMs: l, unpackMBps: mbps(l.median) };
    };
    const b = summary(berth);
    const r = ref ? summary(ref) : null;
    console.log(
      JSON.stringify(
        {
          runs: RUNS,
          uncompressedMB: bytes / 1e6,
          layers: tars.length,
          berth: b,
          reference: r,
          berthPullOverReference: r ? b.pullMs.median / r.pullMs.median : null,
          berthLoadOverReference: r ? b.loadMs.median / r.loadMs.median : null,
        },
        null,
        2,
      ),
    );
  } finally {
    await suite.stop();
    await reg.stop();
  }
}

void main();
