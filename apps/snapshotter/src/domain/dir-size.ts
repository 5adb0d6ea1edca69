import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Apparent size of a tree in bytes (what Docker reports as a volume's or layer's size).
 * Hardlinked files count once; a tree that changes while walked gives a best-effort number.
 */
export function dirSize(root: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  walk(root);
  return total;
}
