/**
 * The attach streams this gateway is serving, by container id. A container's output reaches an
 * attached client on the attach connection and its exit on the wait connection; clients such as
 * dockerode's `run` stop reading the output once the wait answers. dockerd answers the wait only
 * after the attached streams are copied, so here a wait answer waits for the container's attach
 * streams to end (bounded, so a stalled client cannot hold it).
 */
const live = new Map<string, Set<Promise<void>>>();

/** Registers a stream; call the returned function when it has ended. */
export function attachStarted(id: string): () => void {
  let end!: () => void;
  const p = new Promise<void>((r) => (end = r));
  const set = live.get(id) ?? new Set();
  set.add(p);
  live.set(id, set);
  return () => {
    end();
    set.delete(p);
    if (!set.size && live.get(id) === set) live.delete(id);
  };
}

export async function attachesEnded(id: string, deadlineMs = 2_000): Promise<void> {
  const set = live.get(id);
  if (!set?.size) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all([...set]), new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
  clearTimeout(timer);
}
