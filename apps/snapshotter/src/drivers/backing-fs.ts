import { statfsSync } from 'node:fs';

const MAGIC: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
};

/** Name of the filesystem holding `dir`, as `docker info` shows it ("Backing Filesystem"). */
export function backingFilesystem(dir: string): string {
  try {
    const type = Number(statfsSync(dir).type) >>> 0;
    return MAGIC[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}
