import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMounted } from '@berth/rootfs';
import { DEFAULT_SHM_BYTES } from '@berth/oci-spec';
import { filesDir, type LifecycleDeps } from './lifecycle-context';
import type { ContainerRecord } from './model';

const run = promisify(execFile);

/**
 * `--ipc shareable`: the container's /dev/shm is a tmpfs on the host, in the container's own
 * files, so that `--ipc container:` joiners can bind the same one. As in dockerd it is mounted
 * when the container starts (if it is not still mounted) and goes with the container.
 */
export function shmDir(d: LifecycleDeps, id: string): string {
  return join(filesDir(d, id), 'shm');
}

function ownsShm(rec: ContainerRecord): boolean {
  return rec.hostConfig.IpcMode === 'shareable' && !!rec.shmPath;
}

export async function mountShm(rec: ContainerRecord): Promise<void> {
  if (!ownsShm(rec) || isMounted(rec.shmPath!)) return;
  mkdirSync(rec.shmPath!, { recursive: true, mode: 0o700 });
  const size = rec.hostConfig.ShmSize && rec.hostConfig.ShmSize > 0 ? rec.hostConfig.ShmSize : DEFAULT_SHM_BYTES;
  await run('mount', ['-t', 'tmpfs', '-o', `nosuid,noexec,nodev,mode=1777,size=${size}`, 'shm', rec.shmPath!]);
}

export async function unmountShm(rec: ContainerRecord): Promise<void> {
  if (!ownsShm(rec)) return;
  // Lazily: a joiner that still runs keeps its bind of it until it ends.
  if (isMounted(rec.shmPath!)) await run('umount', ['-l', rec.shmPath!]);
}
