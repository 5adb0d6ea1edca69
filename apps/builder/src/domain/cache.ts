import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@berth/store';

interface CacheRecord {
  image: string;
  parent: string;
  createdUnixMs: number;
}

/**
 * The classic build cache: a step's key (parent image + instruction + source checksums,
 * hashed) names the image it made. Records are files written atomically, so a kill leaves
 * either the old record or the new one; a record whose image is gone is a miss.
 */
export class BuildCache {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  get(key: string): string | undefined {
    try {
      return (JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')) as CacheRecord).image;
    } catch {
      return undefined;
    }
  }

  put(key: string, image: string, parent: string): void {
    writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify({ image, parent, createdUnixMs: Date.now() } satisfies CacheRecord));
  }

  /** Every cached image, then forgets them all (`docker builder prune`). */
  clear(): string[] {
    const images = new Set<string>();
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        images.add((JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as CacheRecord).image);
      } catch {
        // unreadable: removed below all the same
      }
      rmSync(join(this.dir, f), { force: true });
    }
    return [...images];
  }
}
