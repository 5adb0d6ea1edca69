import { failedPrecondition } from '@berth/errors';
import type { StreamName } from '@berth/json-log';
import { type ExecHandle, type ExecState, Execs } from './execs';
import type { ShimOptions } from './options';
import { Runtime } from './runtime';
import type { Status } from './shim-container';

/**
 * What every monitor does the same way, whoever is the container's parent: signals, pause, the
 * pid list and execs go to the OCI runtime, for a container that runs (or is paused).
 */
export abstract class RuntimeContainer {
  status: Status = 'created';
  protected readonly rt: Runtime;
  private readonly execs: Execs;

  constructor(
    readonly o: ShimOptions,
    readonly bundle: string,
  ) {
    this.rt = new Runtime(o);
    this.execs = new Execs(this.rt, bundle, o.id);
  }

  protected live(): boolean {
    return this.status === 'running' || this.status === 'paused';
  }

  protected running(): void {
    if (!this.live()) throw failedPrecondition(`container ${this.o.id} is not running`);
  }

  async kill(signal: number, all: boolean): Promise<void> {
    this.running();
    await this.rt.kill(signal, all);
  }

  async pause(pause: boolean): Promise<void> {
    this.running();
    await this.rt.call(pause ? 'pause' : 'resume', this.o.id);
    this.status = pause ? 'paused' : 'running';
  }

  async pids(): Promise<number[]> {
    this.running();
    return this.rt.pids();
  }

  /** Runs an extra process in the container (docker exec). */
  async exec(execId: string, processJson: Buffer, out: (s: StreamName, b: Buffer) => void): Promise<ExecHandle> {
    if (this.status !== 'running') throw failedPrecondition(`container ${this.o.id} is not running`);
    return this.execs.run(execId, processJson, out);
  }

  execState(execId: string): ExecState {
    return this.execs.state(execId);
  }

  /** A shutdown's end of a run that still goes: resumed, SIGKILL to every process, its exit awaited (bounded). */
  protected async endRun(exited: () => Promise<unknown>): Promise<void> {
    if (!this.live()) return;
    if (this.status === 'paused') await this.rt.call('resume', this.o.id).catch(() => undefined);
    await this.rt.kill(9, true).catch(() => undefined);
    await Promise.race([exited().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
  }
}
