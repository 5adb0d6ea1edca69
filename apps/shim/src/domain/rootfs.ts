import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MountSpec, mountSpecs } from '@berth/rootfs';

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

/** Mounts the snapshot at `<bundle>/rootfs` (idempotent: a mount left by a previous run is kept). */
export function mountRootfs(bundle: string): string {
  const target = join(bundle, 'rootfs');
  mkdirSync(target, { recursive: true });
  if (mounted(target)) return target;
  const mounts = JSON.parse(readFileSync(join(bundle, 'rootfs-mounts.json'), 'utf8')) as MountSpec[];
  mountSpecs(mounts, target);
  execFileSync('mount', ['--make-private', target]);
  return target;
}

export function unmountRootfs(bundle: string): void {
  const target = join(bundle, 'rootfs');
  for (let i = 0; i < 8 && mounted(target); i++) {
    try {
      execFileSync('umount', [target]);
    } catch {
      execFileSync('umount', ['-l', target]);
    }
  }
}

