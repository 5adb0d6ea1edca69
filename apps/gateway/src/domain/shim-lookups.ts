/**
 * A container's monitor, looked up while the gateway answers the inspect that the docker CLI
 * sends right before `logs` (and `attach`): the logs call then skips its own round trip to the
 * supervisor, a good part of a short `docker logs --tail` on a loaded machine (issue 13).
 *
 * An answer is used at most once, within TTL_MS, and for the same reference only. Any request
 * that may change which container a reference names (every one but GET and HEAD: create, rename,
 * remove, prune...) drops them all, so a name is never resolved to a container it no longer
 * names. A container removed by its own `--rm` frees its name only for a later create, which
 * drops them too. The monitor's address of a container never changes; a monitor that has gone
 * since (a stopped container's idle shim) fails the call as unavailable, and the caller then
 * asks the supervisor, which starts one (`fresh`).
 */
const TTL_MS = 2_000;

export class ShimLookups<T> {
  private readonly entries = new Map<string, { at: number; answer: Promise<T> }>();

  constructor(private readonly lookup: (reference: string) => Promise<T>) {}

  /** Starts looking up `reference`'s monitor for a call that may follow. */
  prefetch(reference: string): void {
    const answer = this.lookup(reference);
    // A failed lookup is not kept: the call that follows asks again and reports its error.
    answer.catch(() => {
      if (this.entries.get(reference)?.answer === answer) this.entries.delete(reference);
    });
    this.entries.set(reference, { at: Date.now(), answer });
  }

  /** The prefetched answer for `reference` (taken: used once), or a fresh lookup; `prefetched` says which. */
  take(reference: string): { answer: Promise<T>; prefetched: boolean } {
    const e = this.entries.get(reference);
    this.entries.delete(reference);
    if (e && Date.now() - e.at <= TTL_MS) return { answer: e.answer, prefetched: true };
    return this.fresh(reference);
  }

  fresh(reference: string): { answer: Promise<T>; prefetched: boolean } {
    return { answer: this.lookup(reference), prefetched: false };
  }

  /** Drops every answer (a request that may change what names what). */
  clear(): void {
    this.entries.clear();
  }

  /** Express middleware: drops the answers at every request but GET and HEAD. */
  readonly clearOnWrites = (req: { method: string }, _res: unknown, next: () => void): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') this.clear();
    next();
  };

  get size(): number {
    return this.entries.size;
  }
}
