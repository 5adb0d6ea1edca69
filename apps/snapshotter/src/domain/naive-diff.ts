import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { type Change, ChangeKind, INIT_PATHS } from './changes';

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

const kindBits = (st: Stats) => st.mode & 0o170000;

/** Whether a node differs from the parent's node at the same path (its own metadata and bytes, not its children). */
function differs(a: Stats, b: Stats, aPath: string, bPath: string): boolean {
  if (kindBits(a) !== kindBits(b) || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return true;
  if (a.isDirectory()) return Math.floor(a.mtimeMs) !== Math.floor(b.mtimeMs);
  if (a.isSymbolicLink()) return readlinkSync(aPath) !== readlinkSync(bPath);
  if (a.isCharacterDevice() || a.isBlockDevice()) return a.rdev !== b.rdev;
  return a.size !== b.size || Math.floor(a.mtimeMs) !== Math.floor(b.mtimeMs);
}

/**
 * What a full-copy snapshot (the native driver) changed over its parent's full tree, found by
 * comparing the two trees as Docker's naive diff does: a node whose type, mode, owner, size,
 * mtime or link target differs is modified, one the parent lacks is added, one only the parent
 * has is deleted (its children are not listed), and a directory holding any change is listed as
 * modified so its metadata travels with the layer. `parentDir` undefined: everything is added.
 */
export function naiveChanges(dir: string, parentDir: string | undefined, exclude: string[]): Change[] {
  const skip = new Set([...INIT_PATHS, ...exclude]);
  const out: Change[] = [];
  const walk = (rel: string): boolean => {
    let changed = false;
    const here = readdirSync(join(dir, rel)).sort();
    const names = new Set(here);
    for (const name of here) {
      const path = `${rel}/${name}`;
      if (skip.has(path)) continue;
      const st = lstatSync(join(dir, path));
      const before = parentDir === undefined ? undefined : lstatOrUndefined(join(parentDir, path));
      if (!before) {
        out.push({ path, kind: ChangeKind.Added });
        if (st.isDirectory()) walk(path);
        changed = true;
        continue;
      }
      const at = out.length;
      const self = differs(st, before, join(dir, path), join(parentDir!, path));
      if (st.isDirectory() && before.isDirectory()) {
        out.push({ path, kind: ChangeKind.Modified });
        const below = walk(path);
        if (!self && !below) out.splice(at, 1);
        else changed = true;
      } else if (self) {
        out.push({ path, kind: ChangeKind.Modified });
        if (st.isDirectory()) walk(path);
        changed = true;
      }
    }
    if (parentDir !== undefined && lstatOrUndefined(join(parentDir, rel))?.isDirectory()) {
      for (const name of readdirSync(join(parentDir, rel)).sort()) {
        const path = `${rel}/${name}`;
        if (names.has(name) || skip.has(path)) continue;
        out.push({ path, kind: ChangeKind.Deleted });
        changed = true;
      }
    }
    return changed;
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
