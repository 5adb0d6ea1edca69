/**
 * Views of containers' filesystems in use (`docker cp`, `docker export` of a container that is
 * not running), by container. A start waits for them, as dockerd's start waits for the container
 * lock a cp holds: else the container would run on a rootfs that a copy is still writing into,
 * or (with the rootfs not mounted by the monitor) beside a second mount of the same overlay
 * directories, whose shared use overlayfs leaves undefined.
 */
const views = new Map<string, Set<Promise<void>>>();

/** Registers a view at once (no await before it); the returned function ends it. */
export function holdView(id: string): () => void {
  let end!: () => void;
  const p = new Promise<void>((r) => (end = r));
  const set = views.get(id) ?? new Set();
  set.add(p);
  views.set(id, set);
  return () => {
    end();
    set.delete(p);
    if (set.size === 0 && views.get(id) === set) views.delete(id);
  };
}

/** Settles once every view of the container held now has ended. */
export function viewsSettled(id: string): Promise<void> {
  const set = views.get(id);
  return set ? Promise.all([...set]).then(() => undefined) : Promise.resolve();
}
