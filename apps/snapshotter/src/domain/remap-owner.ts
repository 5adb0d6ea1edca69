import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { UsernsRemap } from '@berth/config';

/** The host id an id inside a remapped container stands for; ids outside every range stay as they are. */
function toHost(id: number, ranges: UsernsRemap['uids']): number {
  const r = ranges.find((m) => id >= m.containerID && id < m.containerID + m.size);
  return r ? r.hostID + (id - r.containerID) : id;
}

/**
 * Gives a tree the ids a remapped container sees as its own (dockerd keeps such volumes, and
 * the image data copied into them, under the remapped root's ids).
 */
export function shiftToRemap(root: string, remap: UsernsRemap): void {
  const visit = (p: string) => {
    const st = lstatSync(p);
    lchownSync(p, toHost(st.uid, remap.uids), toHost(st.gid, remap.gids));
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
  };
  visit(root);
}
