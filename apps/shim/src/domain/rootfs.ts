import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitMountData, type MountSpec } from '@berth/rootfs';

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
  for (const m of mounts) {
    const opts = m.options.filter((o) => o !== 'rbind');
    if (m.type === 'bind') {
      execFileSync('mount', ['--rbind', m.source, target]);
      if (opts.includes('ro')) execFileSync('mount', ['-o', 'remount,bind,ro', target]);
    } else {
      const { data, cwd } = fitMountData(opts);
      execFileSync('mount', ['-t', m.type, m.source, target, '-o', data], { cwd });
    }
  }
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

