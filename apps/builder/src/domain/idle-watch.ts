/**
 * Counts the work in progress (builds, prunes) and calls `onIdle` once none has run for
 * `afterMs`: a builder started on demand leaves again, and the launcher holds its socket until
 * the next build. Info and health calls are not work: `status` must not keep it alive.
 */
export class IdleWatch {
  private active = 0;
  private lastEnd: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly afterMs: number,
    private readonly onIdle: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.lastEnd = now();
    this.timer = setInterval(
      () => {
        if (this.active === 0 && now() - this.lastEnd >= afterMs) {
          clearInterval(this.timer);
          this.onIdle();
        }
      },
      Math.max(50, Math.min(afterMs / 4, 30_000)),
    );
    this.timer.unref();
  }

  /** Marks one piece of work begun; the returned function ends it (only the first call counts). */
  begin(): () => void {
    this.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active--;
      // The same clock as the check: an injected one must see the work's end.
      this.lastEnd = this.now();
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
