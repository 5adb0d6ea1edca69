import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kind, Mount, SnapshotDriver } from '../domain/snapshotter';

/** overlay2: each snapshot's fs is one overlay layer; parents become lowerdirs, nothing is copied. */
export const overlayDriver: SnapshotDriver = {
  name: 'overlay2',
  whiteouts: 'overlay',
  populate() {},
  mounts(dir: string, parents: string[], kind: Kind): Mount[] {
    const fs = join(dir, 'fs');
    if (kind === 'committed' || parents.length === 0) {
      return [{ type: 'bind', source: fs, options: [kind === 'active' ? 'rw' : 'ro', 'rbind'] }];
    }
    if (kind === 'view') {
      if (parents.length === 1) return [{ type: 'bind', source: parents[0]!, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${parents.join(':')}`] }];
    }
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`workdir=${join(dir, 'work')}`, `upperdir=${fs}`, `lowerdir=${parents.join(':')}`],
      },
    ];
  },
};

export function overlaySupported(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}
