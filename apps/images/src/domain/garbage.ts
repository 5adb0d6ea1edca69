import { chainIds } from '@berth/reference';
import type { ContentStore } from './content-store';
import type { ImageStore } from './image-store';
import type { Leases } from './leases';

/** The snapshotter calls collection needs, shaped like the gRPC client's. */
export interface SnapshotLister {
  list(): Promise<{ name: string; parent: string; kind: 'active' | 'committed' | string }[]>;
  remove(key: string): Promise<unknown>;
}

export interface Collected {
  removedBlobs: string[];
  removedSnapshots: string[];
  bytesFreed: number;
}

/**
 * Content garbage collection: a blob is kept when an image record names it (manifest, config,
 * layer, or the index a repo digest points at) or a pull in progress leases it; a committed
 * snapshot when it is in some image's layer chain, is leased, or has children (a container's
 * rootfs, or a layer above it). The blob sweep is synchronous, so it cannot interleave with
 * a pull between its lease and its record.
 */
export async function collectGarbage(content: ContentStore, images: ImageStore, leases: Leases, snaps: SnapshotLister): Promise<Collected> {
  const keep = new Set<string>();
  const chains = new Set<string>();
  for (const img of images.list()) {
    keep.add(img.id);
    keep.add(img.manifestDigest);
    for (const l of img.layers) keep.add(l.digest);
    for (const r of img.repoDigests) keep.add(r.slice(r.lastIndexOf('@') + 1));
    for (const c of chainIds(img.diffIds)) chains.add(c);
  }
  const removedBlobs: string[] = [];
  let bytesFreed = 0;
  for (const d of content.list()) {
    if (keep.has(d) || leases.has(d)) continue;
    try {
      bytesFreed += content.stat(d).size;
    } catch {
      continue;
    }
    content.delete(d);
    removedBlobs.push(d);
  }
  const removedSnapshots: string[] = [];
  // Top layers first, so that a removed child frees its parent in the same pass.
  for (let pass = 0; pass < 64; pass++) {
    const all = await snaps.list();
    const parents = new Set(all.map((s) => s.parent).filter(Boolean));
    const victims = all.filter((s) => s.kind === 'committed' && !chains.has(s.name) && !leases.has(s.name) && !parents.has(s.name));
    if (victims.length === 0) break;
    let removed = 0;
    for (const v of victims) {
      if (leases.has(v.name)) continue;
      try {
        await snaps.remove(v.name);
        removedSnapshots.push(v.name);
        removed++;
      } catch {
        // In use after all (a container prepared on it meanwhile): keep it.
      }
    }
    if (removed === 0) break;
  }
  return { removedBlobs, removedSnapshots, bytesFreed };
}
