import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ChildState } from './state';

export const DEFAULT_BACKOFF_BASE_MS = 200;
export const DEFAULT_BACKOFF_MAX_MS = 10_000;
/** A child that ran this long before dying is considered healthy again: its backoff restarts. */
export const STABLE_AFTER_MS = 10_000;
export const STOP_GRACE_MS = 10_000;

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** The child's environment (default: the launcher's own). */
  env?: NodeJS.ProcessEnv;
  /** Resolves when the child is ready to serve (e.g. its socket answers). */
  ready?: () => Promise<void>;
}

/**
 * One supervised child, restarted with exponential backoff when it dies, as systemd's
 * Restart=always would. Children get their own process group so a terminal's Ctrl-C reaches
 * only the launcher, which then stops them in order.
 */
export class Child {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly state: ChildState = { pid: 0, startedAtUnixMs: 0, restarts: 0, status: 'stopped' };
  /** Asked first when the child exits on its own: true means it is handled, not restarted. */
  exitHandledBy?: (code: number | null) => boolean;

  constructor(
    private readonly spec: ChildSpec,
    private readonly onChange: () => void,
    private readonly say: (msg: string) => void,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    const proc = spawn(this.spec.command, this.spec.args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: this.spec.env });
    this.proc = proc;
    await once(proc, 'spawn');
    Object.assign(this.state, { pid: proc.pid ?? 0, startedAtUnixMs: Date.now(), status: 'running' });
    this.onChange();
    proc.once('exit', (code, signal) => this.exited(proc, code, signal));
    await this.spec.ready?.();
  }

  private exited(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (proc !== this.proc) return;
    this.proc = undefined;
    this.state.pid = 0;
    if (this.stopping) {
      this.state.status = 'stopped';
      this.onChange();
      return;
    }
    if (this.exitHandledBy?.(code)) return;
    const ranMs = Date.now() - this.state.startedAtUnixMs;
    this.failures = ranMs > STABLE_AFTER_MS ? 1 : this.failures + 1;
    const delay = Math.min(DEFAULT_BACKOFF_BASE_MS * 2 ** (this.failures - 1), DEFAULT_BACKOFF_MAX_MS);
    this.say(`${this.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    this.state.status = 'backoff';
    this.onChange();
    this.timer = setTimeout(() => {
      this.state.restarts++;
      this.start().catch((err: unknown) => this.say(`${this.spec.name} failed to restart: ${String(err)}`));
    }, delay);
  }

  /** SIGTERM, then SIGKILL after the grace period. Only this child's own pid is signalled. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = once(proc, 'exit');
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(killer);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.state.restarts++;
    await this.start();
  }
}
