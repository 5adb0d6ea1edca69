/**
 * The conmon monitor's cut of a live log past max-size after the exit (issue 13,
 * libs/json-log/src/log-split.ts), reported as numbers, never asserted in tests: the time,
 * the CPU and the process's peak RSS of cutting a k8s-file log of `--mib` MiB (1 GiB by default)
 * with a large max-size (few pieces, each copied) and a small one (a cut every few rows, only the
 * newest max-file copied). The peak RSS before the cut is the baseline: the cut streams the file
 * a chunk at a time, so it should not grow with the file.
 * Usage: npx tsx tools/bench/log-split-bench.ts [--mib 1024]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitOverSize } from '@berth/json-log';
import { numberOption } from './common';
import { writeLog } from './log-fixture';

const MIB = numberOption('--mib', 1024);
const MiB = 1024 * 1024;

const peakRssMiB = () => (process.resourceUsage().maxRSS / 1024).toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'log-split-bench-'));
  try {
    for (const [label, maxSize, maxFile] of [
      ['max-size=10m max-file=3', 10_000_000, 3],
      ['max-size=1k max-file=3', 1_000, 3],
    ] as const) {
      const log = join(dir, 'c-k8s.log');
      writeLog(log, MIB * MiB, true);
      const before = peakRssMiB();
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint();
      await splitOverSize(log, maxSize, maxFile);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      const used = process.cpuUsage(cpu);
      const kept = [log, `${log}.1`, `${log}.2`].map((f) => statSync(f).size);
      console.log(
        `${MIB} MiB, ${label}: ${ms.toFixed(0)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms, peak RSS ${before} -> ${peakRssMiB()} MiB; kept ${kept.join(' + ')} bytes`,
      );
      for (const f of [log, `${log}.1`, `${log}.2`]) rmSync(f, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
