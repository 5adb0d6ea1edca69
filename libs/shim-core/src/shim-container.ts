import type { FrameOptions, StreamName } from '@berth/json-log';
import type { LogBatches } from '@berth/log-stream';
import type { ExitRecord } from './exit-record';
import type { ExecHandle, ExecState } from './execs';
import type { Subscriber } from './fanout';
import type { ShimOptions } from './options';

export type Status = 'created' | 'running' | 'paused' | 'stopped';

export interface LogsOptions {
  follow: boolean;
  sinceNano: bigint;
  untilNano: bigint;
  tail: number;
  left: () => boolean;
  /** Yield the client's bytes instead of packed entries (see LogsQuery in libs/log-stream). */
  frames?: FrameOptions;
}

export interface AttachHandle {
  stdin: (b: Buffer) => void;
  /** A promise while stdin should not be sent more (the holder's queue is full); undefined otherwise. */
  stdinFull?: () => Promise<void> | undefined;
  closeStdin: () => void;
  leave: () => void;
}

/**
 * One container as the shim contract sees it, whoever holds its process: the Node shim (the
 * runtime as its child) or the monitor (conmon as the container's parent).
 */
export interface ShimContainer {
  readonly o: ShimOptions;
  readonly bundle: string;
  state(): { status: Status; pid: number; exitCode: number; exitedUnixMs: number };
  start(): Promise<number>;
  /** Makes the runtime's container ahead of a first start, where the implementation can; true when it did. */
  prepare?(): Promise<boolean>;
  wait(): Promise<ExitRecord>;
  kill(signal: number, all: boolean): Promise<void>;
  pause(pause: boolean): Promise<void>;
  pids(): Promise<number[]>;
  resize(rows: number, cols: number): void;
  attach(streams: Set<StreamName>, sub: Omit<Subscriber, 'streams'>): AttachHandle;
  /** Kept lines, then (following) new ones until this run exits. Rejects when the log cannot be read. */
  logs(opts: LogsOptions): Promise<LogBatches>;
  exec(execId: string, processJson: Buffer, out: (s: StreamName, b: Buffer) => void): Promise<ExecHandle>;
  execState(execId: string): ExecState;
  shutdown(): Promise<void>;
}
