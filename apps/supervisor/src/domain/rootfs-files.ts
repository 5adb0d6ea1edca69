import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { internal } from '@berth/errors';
import { fitMountData, type MountSpec, resolveInRoot } from '@berth/rootfs';

const run = promisify(execFile);

export type { MountSpec };

/**
 * Reads files from a container's rootfs as the container will see it (e.g. /etc/passwd to
 * resolve `-u name`), by mounting its snapshot read-only at a private temp dir for a moment.
 * Missing files read as "".
 */
export async function readRootfsFiles(mounts: MountSpec[], paths: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rootfs-'));
  let mounted = false;
  try {
    for (const m of mounts) {
      const opts = m.options.filter((o) => o !== 'rw' && o !== 'rbind' && o !== 'ro');
      if (m.type === 'bind') await run('mount', ['--bind', '-o', 'ro', m.source, dir]);
      else {
        // Only the lower layers: reading must not touch the container's upper dir or work dir.
        const lower = opts.find((o) => o.startsWith('lowerdir='));
        const upper = opts.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
        const lowers = [upper, lower?.slice('lowerdir='.length)].filter(Boolean).join(':');
        const { data, cwd } = fitMountData(['ro', `lowerdir=${lowers}`]);
        await run('mount', ['-t', 'overlay', 'overlay', dir, '-o', data], { cwd });
      }
      mounted = true;
    }
    return paths.map((p) => {
      try {
        // As the container would resolve it: an image's symlink must not lead to a host file.
        return readFileSync(resolveInRoot(dir, p), 'utf8');
      } catch {
        return '';
      }
    });
  } catch (err) {
    throw internal(`reading ${paths.join(', ')} from the container's rootfs: ${(err as Error).message}`);
  } finally {
    if (mounted) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    rmdirSync(dir);
  }
}
