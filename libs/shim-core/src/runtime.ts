import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ShimOptions } from './options';
import { deleteStoppedRuncState } from './runc-stopped';
import { startThroughExecFifo } from './runc-exec-fifo';

const run = promisify(execFile);

/** The OCI runtime's command line (runc or crun: same verbs), scoped to this container's state root. */
export class Runtime {
  constructor(private readonly o: ShimOptions) {}

  args(...rest: string[]): string[] {
    return [...this.o.runtime.args, '--root', this.o.runtimeRoot, ...rest];
  }

  get path(): string {
    return this.o.runtime.path;
  }

  async call(...rest: string[]): Promise<string> {
    try {
      return (await run(this.path, this.args(...rest), { maxBuffer: 16 << 20 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error((e.stderr || e.message).trim().replace(/^time=".*?" level=\w+ msg="(.*)"$/s, '$1'));
    }
  }

  async kill(signal: number, all: boolean): Promise<void> {
    await this.call('kill', ...(all ? ['--all'] : []), this.o.id, String(signal));
  }

  async pids(): Promise<number[]> {
    return JSON.parse((await this.call('ps', '--format', 'json', this.o.id)) || '[]') as number[];
  }

  /** Starts a created container whose init is `initPid` (runc's without a runc process; see runc-exec-fifo). */
  async start(initPid: number): Promise<void> {
    if (await startThroughExecFifo(this.o.runtimeRoot, this.o.id, initPid)) return;
    await this.call('start', this.o.id);
  }

  async delete(): Promise<void> {
    // A stopped runc container is undone here; anything else is the runtime's (see runc-stopped).
    if (deleteStoppedRuncState(this.o.runtimeRoot, this.o.id)) return;
    await this.call('delete', '--force', this.o.id).catch(() => undefined);
  }
}
