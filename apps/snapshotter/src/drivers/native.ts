import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Kind, Mount, SnapshotDriver } from '../domain/snapshotter';

/**
 * native: for filesystems without overlay support. A new snapshot starts as a full copy of
 * its parent (reflinked where the filesystem can), so every snapshot is a plain directory.
 */
export const nativeDriver: SnapshotDriver = {
  name: 'native',
  whiteouts: 'delete',
  populate(dir: string, parents: string[]) {
    const parent = parents[0];
    if (parent) execFileSync('cp', ['-a', '--reflink=auto', `${parent}/.`, dir]);
  },
  mounts(dir: string, _parents: string[], kind: Kind): Mount[] {
    return [{ type: 'bind', source: join(dir, 'fs'), options: [kind === 'active' ? 'rw' : 'ro', 'rbind'] }];
  },
};
