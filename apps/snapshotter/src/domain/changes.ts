import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Docker's ChangeType: 0 modified, 1 added, 2 deleted. */
export const enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface Change {
  path: string;
  kind: ChangeKind;
}

/**
 * Paths Docker keeps in a container's init layer (mount points and files the engine writes),
 * so they never show in `docker diff`; runc creates them in our upper dir instead.
 */
export const INIT_PATHS = new Set(['/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/proc', '/sys', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/etc/mtab', '/.dockerenv']);

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `docker diff` from an overlay upper dir: a 0/0 character device is a deletion (overlay's
 * whiteout), anything else is added, or modified when a lower layer has the path. Mount
 * points the runtime made (init paths, and `exclude`: the container's mount destinations)
 * are left out.
 */
export function overlayChanges(upper: string, lowers: string[], exclude: string[]): Change[] {
  const skip = new Set([...INIT_PATHS, ...exclude]);
  const out: Change[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      const path = `${rel}/${name}`;
      const st = lstatSync(join(upper, path));
      const inLower = lowers.some((l) => exists(join(l, path)));
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ path, kind: ChangeKind.Deleted });
        continue;
      }
      const before = out.length;
      if (!skip.has(path)) out.push({ path, kind: inLower ? ChangeKind.Modified : ChangeKind.Added });
      if (st.isDirectory()) {
        walk(path);
        // A directory in the image that only gained hidden mount points did not change for the user.
        if (inLower && out.length === before + 1 && !skip.has(path) && skipOnlyBelow(upper, path, skip)) out.pop();
      }
    }
  };
  walk('');
  return out;
}

function skipOnlyBelow(upper: string, dir: string, skip: Set<string>): boolean {
  const names = readdirSync(join(upper, dir));
  return names.length > 0 && names.every((n) => skip.has(`${dir}/${n}`));
}
