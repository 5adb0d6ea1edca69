import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition } from '@berth/errors';
import type { Logger } from '@berth/logging';
import { JsonLogWriter, LineSplitter, type LogLine, nowNano, openJsonLogPacked, type StreamName } from '@berth/json-log';
import {
  assertLogReadable,
  clearExitRecord,
  type LogsOptions,
  Fanout,
  keepsNoLog,
  mountRootfs,
  pipeStdio,
  ProcessRun,
  ptyStdio,
  readExitRecord,
  RuntimeContainer,
  type ShimContainer,
  type ShimOptions,
  type Subscriber,
  unmountRootfs,
  writeExitRecord,
} from '@berth/shim-core';

/** Stdin sent before the process starts is held; past this much the sender is asked to wait (`stdinFull`). */
export const MAX_EARLY_STDIN_BYTES = 1 << 20;
/** A sender that does not wait loses what goes past this, rather than growing the shim. */
const HARD_EARLY_STDIN_BYTES = 8 << 20;

/**
 * The one container this shim holds: its runs (start, exit, start again), its output (log and
 * attached clients), and the execs inside it.
 */
export class Container extends RuntimeContainer implements ShimContainer {
  private run: ProcessRun | undefined;
  private exit: { exitCode: number; exitedUnixMs: number } | undefined;
  /**
   * The current run's exit once its runtime state is gone. Wait answers with this, not with the
   * bare exit: a start that followed the exit at once would otherwise race the old run's
   * `runc delete --force`, which then killed the new run.
   */
  private ended: Promise<{ exitCode: number; exitedUnixMs: number }> | undefined;
  private readonly fanout = new Fanout();
  /** Opened at the first start: a shim that only serves the logs of a stopped container never writes. */
  private log: JsonLogWriter | undefined;
  /** Counts runs, so a follower of one run stops at its exit even when the next run has begun. */
  private runs = 0;
  private stdinTaken = false;
  /** Stdin that arrived before the process runs (docker run attaches first), applied at start. */
  private earlyStdin: Buffer[] = [];
  private earlyStdinBytes = 0;
  private earlyClose = false;
  private earlyWaiters: (() => void)[] = [];

  constructor(
    o: ShimOptions,
    bundle: string,
    private readonly logger: Logger,
  ) {
    super(o, bundle);
    this.exit = readExitRecord(bundle);
    this.status = this.exit ? 'stopped' : 'created';
  }

  state() {
    return { status: this.status, pid: this.run?.pid ?? 0, exitCode: this.exit?.exitCode ?? 0, exitedUnixMs: this.exit?.exitedUnixMs ?? 0 };
  }

  private record(stream: StreamName, splitter: LineSplitter, chunk: Buffer | undefined): void {
    const lines = chunk ? splitter.push(chunk) : [splitter.flush()].filter((b): b is Buffer => !!b);
    if (!lines.length) return;
    if (keepsNoLog(this.o)) return;
    this.log!.writeMany(lines.map((line) => ({ stream, line, timeNano: nowNano() })));
    this.log!.changed();
  }

  async start(): Promise<number> {
    if (this.live()) throw failedPrecondition(`container ${this.o.id} is already running`);
    await this.ended;
    await this.rt.delete();
    clearExitRecord(this.bundle);
    this.log ??= new JsonLogWriter(this.o.logPath, this.o.logMaxSize, Math.max(1, this.o.logMaxFile));
    this.stdinTaken = false;
    await mountRootfs(this.bundle);
    const spec = JSON.parse(readFileSync(join(this.bundle, 'config.json'), 'utf8')) as { process: { consoleSize?: { height: number; width: number } } };
    const stdio = this.o.tty ? ptyStdio(spec.process.consoleSize?.height ?? 24, spec.process.consoleSize?.width ?? 80) : pipeStdio(this.o.openStdin);
    const run = new ProcessRun(
      this.rt.path,
      this.rt.args('--log', join(this.bundle, 'runtime.log'), '--log-format', 'json', 'run', '--bundle', this.bundle, '--pid-file', join(this.bundle, 'init.pid'), this.o.id),
      join(this.bundle, 'init.pid'),
      join(this.bundle, 'runtime.log'),
      stdio,
    );
    const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    const pid = await run.start((s, b) => {
      this.record(s, splitters[s], b);
      this.fanout.data(s, b);
    });
    this.run = run;
    this.runs++;
    this.status = 'running';
    for (const b of this.earlyStdin.splice(0)) stdio.writeStdin(b);
    this.earlyStdinBytes = 0;
    for (const w of this.earlyWaiters.splice(0)) w();
    if (this.earlyClose) stdio.closeStdin();
    this.earlyClose = false;
    this.exit = undefined;
    this.ended = run.done.then(async (r) => {
      this.record('stdout', splitters.stdout, undefined);
      this.record('stderr', splitters.stderr, undefined);
      writeExitRecord(this.bundle, r);
      this.exit = r;
      await this.rt.delete();
      this.status = 'stopped';
      this.fanout.end();
      this.log?.changed();
      this.logger.info({ exitCode: r.exitCode }, 'container exited');
      return r;
    });
    return pid;
  }

  /** Resolves once the current run has exited. */
  async wait(): Promise<{ exitCode: number; exitedUnixMs: number }> {
    if (this.ended) return this.ended;
    if (this.exit) return this.exit;
    throw failedPrecondition(`container ${this.o.id} has not been started`);
  }

  resize(rows: number, cols: number): void {
    if (!this.o.tty) throw failedPrecondition(`container ${this.o.id} has no TTY`);
    this.running();
    this.run?.stdio.resize(rows, cols);
    this.run?.signalRuntime('SIGWINCH');
  }

  /** Live output for a client; returns how to send stdin and how to leave. */
  attach(streams: Set<StreamName>, sub: Omit<Subscriber, 'streams'>) {
    // Attached to a container that is not running, a client waits for its next run, as
    // `docker start -a` does (attach first, then start).
    const leave = this.fanout.add({ streams, ...sub });
    const notYet = () => this.status === 'created' || this.status === 'stopped';
    return {
      stdin: (b: Buffer) => {
        if (!this.o.openStdin) return;
        if (notYet()) {
          if (this.earlyStdinBytes + b.length <= HARD_EARLY_STDIN_BYTES) {
            this.earlyStdin.push(b);
            this.earlyStdinBytes += b.length;
          }
          return;
        }
        this.run?.stdio.writeStdin(b);
      },
      stdinFull: () => (notYet() && this.earlyStdinBytes >= MAX_EARLY_STDIN_BYTES ? new Promise<void>((r) => this.earlyWaiters.push(r)) : undefined),
      closeStdin: () => {
        // `-i` without stdin-once (`docker run -d -i`) keeps stdin open for later clients.
        if (!this.o.openStdin || !this.o.stdinOnce || this.stdinTaken) return;
        this.stdinTaken = true;
        if (notYet()) this.earlyClose = true;
        else this.run?.stdio.closeStdin();
      },
      leave,
    };
  }

  /**
   * Kept lines (from disk, streamed), then when following new ones until this run's process
   * exits. Rejects when the log cannot be read.
   */
  async logs(opts: LogsOptions): Promise<AsyncGenerator<Buffer>> {
    assertLogReadable(this.o);
    const run = this.runs;
    const live = opts.follow && this.live();
    const log = this.log;
    return openJsonLogPacked(this.o.logPath, {
      maxFiles: Math.max(1, this.o.logMaxFile),
      tail: opts.tail,
      sinceNano: opts.sinceNano,
      untilNano: opts.untilNano,
      frames: opts.frames,
      follow:
        live && log
          ? { onChange: (fn) => log.onChange(fn), onRotate: (fn) => log.onRotate(fn), ended: () => opts.left() || this.runs !== run || !this.live() }
          : undefined,
    });
  }

  /** Leaves nothing behind: kills what runs, removes runtime state, unmounts the rootfs. */
  async shutdown(): Promise<void> {
    await this.endRun(() => this.ended ?? Promise.resolve());
    await this.rt.delete();
    unmountRootfs(this.bundle);
    this.log?.close();
  }
}
