/**
 * compress=true under the conmon monitor (issue 13, libs/json-log/src/log-compress.ts), reported as
 * numbers, never asserted in tests: the time and CPU of gzipping one rotated k8s-file log of
 * `--mb` MB (a max-size; 10 MB by default) to `.1.gz`, the ratio, and the time of inflating it back
 * into an unnamed file, which is what a `docker logs` that reaches a compressed file pays for it.
 * Usage: npx tsx tools/bench/log-compress-bench.ts [--mb 10] [--runs 5]
 */
import { closeSync, fstatSync, mkdtempSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressedName, compressRotated, inflatedCopy, rotatedName } from '@berth/json-log';
import { numberOption } from './common';
import { writeLog } from './log-fixture';

const MB = numberOption('--mb', 10);
const RUNS = numberOption('--runs', 5);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'log-compress-bench-'));
  try {
    const log = join(dir, 'c-k8s.log');
    const wall: number[] = [];
    const cpu: number[] = [];
    const back: number[] = [];
    let ratio = 0;
    for (let r = 0; r < RUNS; r++) {
      writeLog(log, MB * 1e6, true);
      renameSync(log, rotatedName(log, 1));
      const plain = statSync(rotatedName(log, 1)).size;
      const c = process.cpuUsage();
      let t = process.hrtime.bigint();
      await compressRotated(log, 1);
      wall.push(Number(process.hrtime.bigint() - t) / 1e6);
      const u = process.cpuUsage(c);
      cpu.push((u.user + u.system) / 1000);
      ratio = statSync(compressedName(log, 1)).size / plain;
      const gz = openSync(compressedName(log, 1), 'r');
      t = process.hrtime.bigint();
      const fd = await inflatedCopy(gz, log);
      back.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (fstatSync(fd).size !== plain) throw new Error(`inflated ${fstatSync(fd).size} bytes, not ${plain}`);
      closeSync(fd);
      closeSync(gz);
      rmSync(compressedName(log, 1));
    }
    console.log(
      `${MB} MB rotated file, median of ${RUNS}: compress ${median(wall).toFixed(0)} ms wall, ${median(cpu).toFixed(0)} ms CPU, ${(ratio * 100).toFixed(1)}% of its size; inflate ${median(back).toFixed(0)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
