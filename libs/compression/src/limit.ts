import { statfs } from 'node:fs/promises';

/**
 * Share of a filesystem's size an upload leaves free when no limit is configured: the same
 * order as ext4's reserved blocks, so a bomb stops before the disk is full for everyone else.
 */
export const DEFAULT_DISK_RESERVE_RATIO = 0.05;

/**
 * How many bytes an upload may expand to. A configured value (> 0) is used as is; 0 means the
 * default: the free space of the filesystem holding `dir` right now, less the reserve. That
 * never refuses an archive that could have been stored (it would have run out of disk), and
 * it stops a decompression bomb before it fills the disk.
 */
export async function expandedLimitBytes(configuredBytes: number, dir: string): Promise<number> {
  if (configuredBytes > 0) return configuredBytes;
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const reserve = s.blocks * s.bsize * DEFAULT_DISK_RESERVE_RATIO;
  return Math.max(0, Math.floor(free - reserve));
}
