import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import type { StreamName } from '@berth/json-log';
import type { Stdio } from './stdio';

export interface RunResult {
  exitCode: number;
  exitedUnixMs: number;
}

/**
 * One foreground runtime invocation (`runc run` or `runc exec`): the runtime stays the
 * process's parent, forwards signals to it and exits with its status, so the shim needs no
 * subreaper. Started once the pid file appears; a runtime that exits before that failed to
 * start, and its own error (from its JSON log) is the failure.
 */
export class ProcessRun {
  private child: ChildProcess | undefined;
  pid = 0;
  readonly done: Promise<RunResult>;
  private resolveDone!: (r: RunResult) => void;

  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly pidFile: string,
    private readonly runtimeLog: string,
    readonly stdio: Stdio,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Resolves with the pid when running; rejects with the runtime's message when it could not start. */
  start(onData: (s: StreamName, b: Buffer) => void): Promise<number> {
    rmSync(this.pidFile, { force: true });
    rmSync(this.runtimeLog, { force: true });
    // Output before the process runs is the runtime talking about itself: hold it back, and
    // drop it when the start fails (the error is reported instead).
    let started = false;
    const held: [StreamName, Buffer][] = [];
    const data = (s: StreamName, b: Buffer) => (started ? onData(s, b) : held.push([s, b]));
    const child = spawn(this.cmd, this.args, { stdio: this.stdio.childStdio as never, detached: false });
    this.child = child;
    const output = this.stdio.attach(child, data);
    const exited = new Promise<number>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0))),
    );
    void Promise.all([exited, output]).then(([code]) => {
      this.stdio.close();
      this.resolveDone({ exitCode: code, exitedUnixMs: Date.now() });
    });
    return new Promise<number>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(this.pidFile)) {
          const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
          if (pid > 0) {
            clearInterval(poll);
            started = true;
            this.pid = pid;
            for (const [s, b] of held.splice(0)) onData(s, b);
            resolve(pid);
          }
        }
      }, 5);
      void exited.then((code) => {
        if (started) return;
        clearInterval(poll);
        if (existsSync(this.pidFile)) {
          // Ran and exited at once: a start nonetheless.
          started = true;
          this.pid = Number(readFileSync(this.pidFile, 'utf8').trim()) || 0;
          for (const [s, b] of held.splice(0)) onData(s, b);
          resolve(this.pid);
          return;
        }
        reject(new Error(runtimeError(this.runtimeLog) || held.map(([, b]) => b.toString()).join('').trim() || `runtime exited with code ${code}`));
      });
    });
  }

  signalRuntime(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }
}

/** The last error the runtime wrote to its JSON log (`--log-format json`). */
export function runtimeError(path: string): string {
  try {
    const lines = readFileSync(path, 'utf8').trim().split('\n').reverse();
    for (const l of lines) {
      const r = JSON.parse(l) as { level?: string; msg?: string };
      if (r.level === 'error' || r.level === 'fatal') return r.msg ?? '';
    }
  } catch {
    // no log
  }
  return '';
}
