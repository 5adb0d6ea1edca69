/**
 * A container's monitor, looked up while the gateway answers the inspect that the docker CLI
 * sends right before `logs` (and `attach`): the logs call then skips its own round trip to the
 * supervisor, a good part of a short `docker logs --tail` on a loaded machine (issue 13).
 *
 * An answer is used at most once, within TTL_MS, and for the same reference only. Any request
 * that may change which container a reference names (every one but GET and HEAD: create, rename,
 * remove, prune...) drops them all, so a name is never resolved to a container it no longer
 * names. A container removed by its own `--rm` frees its name only for a later create, which
 * drops them too. A prefetch never starts a monitor (an inspect need not be followed by a logs
 * call): it answers only while one serves, for a running container or a stopped one, and fails
 * otherwise, so the call asks again. The monitor's address of a container never changes; a
 * monitor that has gone since (killed, or a stopped container's idle shim) fails the call as
 * unavailable, and the caller then asks the supervisor, which starts one (`fresh`).
 */
const TTL_MS = 2_000;

export class ShimLookups<T> {
  private readonly entries = new Map<string, { at: number; answer: Promise<T> }>();

  /** `lookup(reference, true)` for a prefetch: it must not start a monitor. */
  constructor(private readonly lookup: (reference: string, prefetching: boolean) => Promise<T>) {}

  /** Starts looking up `reference`'s monitor for a call that may follow. */
  prefetch(reference: string): void {
    const answer = this.lookup(reference, true);
    // A failed lookup is not kept: the call that follows asks again and reports its error.
    answer.catch(() => {
      for (const [k, v] of this.entries) if (v.answer === answer) this.entries.delete(k);
    });
    this.entries.set(reference, { at: Date.now(), answer });
  }

  /**
   * `reference`'s prefetched answer, if one is kept, is also `other`'s: the docker CLI inspects
   * by the name it was given and asks for the logs by the ID the inspect answered.
   */
  alias(reference: string, other: string): void {
    const e = this.entries.get(reference);
    if (e && other !== reference) this.entries.set(other, e);
  }

  /** The prefetched answer for `reference` (taken: used once, under any of its names), or a fresh lookup; `prefetched` says which. */
  take(reference: string): { answer: Promise<T>; prefetched: boolean } {
    const e = this.entries.get(reference);
    for (const [k, v] of this.entries) if (v === e) this.entries.delete(k);
    if (e && Date.now() - e.at <= TTL_MS) return { answer: e.answer, prefetched: true };
    return this.fresh(reference);
  }

  fresh(reference: string): { answer: Promise<T>; prefetched: boolean } {
    return { answer: this.lookup(reference, false), prefetched: false };
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
