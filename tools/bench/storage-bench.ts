/**
 * Storage benchmarks (issue #6), reported as numbers, never asserted in tests:
 *   - `docker cp` of a tree (default 500 MiB in 500 files) host -> container and back;
 *   - `docker commit` of a container whose changes are that tree;
 *   - a write-heavy workload (one big sequential file plus many small files, each fsynced at
 *     the end) on the container's overlay rootfs vs on a volume.
 * Each against Berth and, when installed, a reference dockerd with its own roots under /tmp.
 * Usage: npx tsx tools/bench/storage-bench.ts [--mib 500] [--no-reference]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { type Docker, numberOption, timed, withReferenceEngine } from './common';

const MIB = numberOption('--mib', 500);
const FILES = MIB; // 1 MiB each

function makeTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${i % 20}`);
    mkdirSync(sub, { recursive: true });
    block.writeUInt32LE(i, 0);
    writeFileSync(join(sub, `f${i}`), block);
  }
}

async function must(docker: Docker, a: string[]): Promise<string> {
  const r = await docker(a);
  if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const WRITE_LOAD = (dir: string) =>
  `dd if=/dev/zero of=${dir}/big bs=1M count=${Math.min(MIB, 256)} conv=fsync 2>/dev/null; ` +
  `mkdir -p ${dir}/small; i=0; while [ $i -lt 2000 ]; do echo $i > ${dir}/small/$i; i=$((i+1)); done; sync`;

async function measure(docker: Docker, tree: string, scratch: string, tag: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await must(docker, ['run', '-d', '--network', 'none', '--name', `cp-${tag}`, 'busybox', 'sleep', '3600']);
  out.cpIntoContainerMs = await timed(() => must(docker, ['cp', tree, `cp-${tag}:/tree`]));
  const back = join(scratch, `back-${tag}`);
  out.cpOutOfContainerMs = await timed(() => must(docker, ['cp', `cp-${tag}:/tree`, back]));
  rmSync(back, { recursive: true, force: true });
  out.commitMs = await timed(() => must(docker, ['commit', `cp-${tag}`, `bench-commit:${tag}`]));
  await docker(['rm', '-f', `cp-${tag}`]);
  await docker(['rmi', `bench-commit:${tag}`]);
  // Timed inside the container (busybox `time -p`), so container start and stop do not count.
  const inside = async (extra: string[]) => {
    const r = await docker(['run', '--rm', '--network', 'none', ...extra, 'busybox', 'sh', '-c', `time -p sh -c '${WRITE_LOAD('/work')}'`]);
    const m = /real\s+([\d.]+)/.exec(r.stderr);
    if (r.code !== 0 || !m) throw new Error(`write load failed: ${r.stderr}`);
    return Number(m[1]) * 1000;
  };
  out.writeLoadOverlayMs = await inside([]);
  out.writeLoadVolumeMs = await inside(['-v', `bench-vol-${tag}:/work`]);
  await docker(['volume', 'rm', `bench-vol-${tag}`]);
  return out;
}

async function reference(busybox: string, tree: string, scratch: string): Promise<Record<string, number> | null> {
  const r = await withReferenceEngine(async (docker) => {
    await must(docker, ['load', '-i', busybox]);
    return measure(docker, tree, scratch, 'ref');
  });
  return r ?? null;
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const scratch = mkdtempSync('/tmp/berth-bench-storage-');
  const tree = join(scratch, 'tree');
  makeTree(tree);
  const suite = await Suite.start();
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    const docker: Docker = (a) => suite.docker(a, { timeoutMs: 600_000 });
    const berth = await measure(docker, tree, scratch, 'berth');
    await suite.stop();
    const ref = await reference(fx.busybox, tree, scratch);
    console.log(JSON.stringify({ treeMiB: MIB, files: FILES, berth, reference: ref }, null, 2));
  } finally {
    await suite.stop().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

void main();
