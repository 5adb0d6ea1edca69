import { afterAll, beforeAll } from 'vitest';
import { Suite } from './berth';

/**
 * One suite with busybox loaded for a whole test file: started before its first test, its
 * containers removed and the suite stopped after its last. `use` receives it (the file keeps it
 * in its own `let suite`). `extraArgs` go to the launcher (e.g. `--default-monitor conmon`), `env`
 * to it and the services it starts (e.g. a monitor's BERTH_MONITOR_* setting).
 */
export function busyboxSuiteForFile(use: (s: Suite) => void, extraArgs: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): void {
  let suite: Suite | undefined;
  beforeAll(async () => {
    suite = await Suite.startWithBusybox(extraArgs, opts);
    use(suite);
  });
  afterAll(async () => {
    if (!suite) return;
    await suite.removeAllContainers();
    await suite.stop();
  });
}
