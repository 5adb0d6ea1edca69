import { invalidArgument } from '@berth/errors';
import type { ContainerRecord } from './model';

export interface ExitResult {
  exitCode: number;
  error: string;
}

type Waiters = Map<string, Set<(r: ExitResult) => void>>;

/** Who waits for a container's next exit or its removal (docker wait, stop, rm -f). */
export class ExitWaiters {
  private readonly exits: Waiters = new Map();
  private readonly removals: Waiters = new Map();

  nextExit(id: string): Promise<ExitResult> {
    return waitOn(this.exits, id);
  }

  removal(id: string): Promise<ExitResult> {
    return waitOn(this.removals, id);
  }

  exited(id: string, r: ExitResult): void {
    notify(this.exits, id, r);
  }

  removed(id: string, r: ExitResult): void {
    notify(this.exits, id, r);
    notify(this.removals, id, r);
  }

  /** Resolves when the condition holds; `registered` runs once the waiter is in place. */
  async wait(rec: ContainerRecord, condition: string, registered: () => void): Promise<ExitResult> {
    const cond = condition || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw invalidArgument(`invalid condition: "${condition}"`);
    if (cond === 'removed') {
      const p = this.removal(rec.id);
      registered();
      return p;
    }
    if (cond === 'not-running' && !rec.state.Running && !rec.state.Restarting) {
      registered();
      return { exitCode: rec.state.ExitCode, error: rec.state.Error };
    }
    const p = this.nextExit(rec.id);
    registered();
    return p;
  }
}

function notify(map: Waiters, id: string, r: ExitResult): void {
  const set = map.get(id);
  map.delete(id);
  for (const fn of set ?? []) fn(r);
}

function waitOn(map: Waiters, id: string): Promise<ExitResult> {
  return new Promise((resolve) => {
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(resolve);
  });
}
