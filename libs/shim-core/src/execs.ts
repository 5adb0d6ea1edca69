import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition, notFound } from '@berth/errors';
import type { StreamName } from '@berth/json-log';
import { ProcessRun } from './process-run';
import type { Runtime } from './runtime';
import { pipeStdio, ptyStdio } from './stdio';

export interface ExecState {
  running: boolean;
  exitCode: number;
  pid: number;
}

export interface ExecHandle {
  pid: number;
  exited: Promise<number>;
  stdin: (b: Buffer) => void;
  closeStdin: () => void;
  resize: (rows: number, cols: number) => void;
}

/**
 * The exec'd processes of one container (docker exec), each a foreground `runc exec` that is
 * this process's child; their states stay known after they exit, for exec inspect.
 */
export class Execs {
  private readonly states = new Map<string, ExecState>();

  constructor(
    private readonly rt: Runtime,
    private readonly bundle: string,
    private readonly id: string,
  ) {}

  async run(execId: string, processJson: Buffer, out: (s: StreamName, b: Buffer) => void): Promise<ExecHandle> {
    if (this.states.has(execId)) throw failedPrecondition(`exec ${execId} has already run`);
    const proc = JSON.parse(processJson.toString('utf8')) as { terminal?: boolean; consoleSize?: { height: number; width: number } };
    const base = join(this.bundle, `exec-${execId.slice(0, 12)}`);
    writeFileSync(`${base}.json`, processJson);
    const stdio = proc.terminal ? ptyStdio(proc.consoleSize?.height ?? 24, proc.consoleSize?.width ?? 80) : pipeStdio(true);
    const run = new ProcessRun(
      this.rt.path,
      this.rt.args('--log', `${base}.log`, '--log-format', 'json', 'exec', '--process', `${base}.json`, '--pid-file', `${base}.pid`, this.id),
      `${base}.pid`,
      `${base}.log`,
      stdio,
    );
    const state: ExecState = { running: true, exitCode: 0, pid: 0 };
    this.states.set(execId, state);
    let pid: number;
    try {
      pid = await run.start(out);
    } catch (err) {
      // Docker's codes for a process that could not start: not found 127, not executable 126.
      const msg = err instanceof Error ? err.message : String(err);
      Object.assign(state, { running: false, exitCode: /not found|no such file/i.test(msg) ? 127 : 126 });
      throw new Error(`OCI runtime exec failed: ${msg}: unknown`);
    }
    state.pid = pid;
    const exited = run.done.then((r) => {
      Object.assign(state, { running: false, exitCode: r.exitCode });
      return r.exitCode;
    });
    return {
      pid,
      exited,
      stdin: (b) => stdio.writeStdin(b),
      closeStdin: () => stdio.closeStdin(),
      resize: (rows, cols) => {
        stdio.resize(rows, cols);
        run.signalRuntime('SIGWINCH');
      },
    };
  }

  state(execId: string): ExecState {
    const s = this.states.get(execId);
    if (!s) throw notFound(`No such exec instance: ${execId}`);
    return s;
  }
}
