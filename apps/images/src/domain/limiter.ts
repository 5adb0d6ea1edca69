/** Runs at most `max` tasks at once; the rest wait their turn in order. */
export class Limiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** `onWait` is told when the task has to queue (Docker shows "Waiting"). */
  async run<T>(task: () => Promise<T>, onWait?: () => void): Promise<T> {
    if (this.running >= this.max) {
      onWait?.();
      await new Promise<void>((r) => this.queue.push(r));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
