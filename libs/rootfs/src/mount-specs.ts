import { execFileSync } from 'node:child_process';
import { type MountSpec, fitMountData } from './mount-data';

/**
 * Mounts a snapshot's mounts on `target`, as the snapshotter described them: binds (made
 * read-only after the fact when asked, as the kernel needs) or filesystem mounts whose options
 * are fitted into the kernel's one page.
 */
export function mountSpecs(mounts: MountSpec[], target: string): void {
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
}
