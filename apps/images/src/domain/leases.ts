/**
 * Names (blob digests, snapshot names) that work in progress still needs although no image
 * records them yet, e.g. the blobs and layers of a pull not finished. Garbage collection
 * leaves leased names alone.
 */
export class Leases {
  private readonly held = new Map<string, number>();

  /** Holds the names until the returned release is called (once; later calls do nothing). */
  hold(names: Iterable<string>): () => void {
    const list = [...names];
    for (const n of list) this.held.set(n, (this.held.get(n) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const n of list) {
        const c = (this.held.get(n) ?? 1) - 1;
        if (c <= 0) this.held.delete(n);
        else this.held.set(n, c);
      }
    };
  }

  /** Runs `fn`, holding every name it asks for until it has settled. */
  async during<T>(fn: (hold: (names: Iterable<string>) => void) => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      return await fn((names) => releases.push(this.hold(names)));
    } finally {
      for (const r of releases) r();
    }
  }

  has(name: string): boolean {
    return this.held.has(name);
  }
}
