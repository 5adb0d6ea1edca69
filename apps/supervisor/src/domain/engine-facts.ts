import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@berth/store';

/** The engine's stable identity (`docker info` ID), made once and kept with the containers. */
export function engineId(dataDir: string): string {
  const file = join(dataDir, 'engine-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // first start
  }
  const id = randomUUID();
  writeFileAtomic(file, `${id}\n`);
  return id;
}

/** `runc --version` prints "runc version 1.1.5+ds1" first; crun prints "crun version 1.8". */
export function runtimeVersion(path: string): string {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5_000 });
    return /version\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unavailable';
  }
}
