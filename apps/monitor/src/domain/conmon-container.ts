import { closeSync, constants, existsSync, openSync, readFileSync, rmSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition } from '@berth/errors';
import type { LogLine, StreamName } from '@berth/json-log';
import { type Logger, span, traced, traceDuration } from '@berth/logging';
import {
  assertLogReadable,
  type AttachHandle,
  type ExitRecord,
  keepsNoLog,
  type LogsOptions,
  mountRootfs,
  readExitRecord,
  RuntimeContainer,
  type ShimContainer,
  type ShimOptions,
  type Subscriber,
  unmountRootfs,
  writeExitRecord,
} from '@berth/shim-core';
import { type ConmonPaths, conmonPaths, createUnderConmon } from '../clients/conmon';
import { AttachOutput } from './attach-output';
import { ConmonStdin } from './conmon-stdin';
import { LogRotator } from './log-rotation';
import { openRotatedK8sLog } from './rotated-log';

/** How often the exit file and conmon's pid are checked besides inotify (which a busy dir can overflow). */
const POLL_MS = 500;
/**
 * A runtime container made at `docker create` waits this long for its first start; then it is
 * dropped, so a container left in Created holds no process, as under Docker.
 */
export const DEFAULT_PREPARED_TTL_MS = 30_000;
/** Read once: tests of the drop cannot wait 30 s for each case. */
const PREPARED_TTL_MS = preparedTtlMs(process.env.BERTH_MONITOR_PREPARED_TTL_MS);

/** A positive number of milliseconds from the environment, else the default. */
export function preparedTtlMs(value: string | undefined): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isFinite(n) && n > 0 ? n : DEFAULT_PREPARED_TTL_MS;
}

/**
 * What a prepared runtime container was made from: a spec rewritten since (`docker update`) voids
 * it, and so does a namespace file replaced since (a network disconnect and connect before the
 * start, as compose does, gives the container a new network namespace at the same path).
 */
function bundleStamp(bundle: string): string {
  const id = (f: string) => {
    try {
      const st = statSync(f);
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  let namespaces: string[] = [];
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux?: { namespaces?: { path?: string }[] } };
    namespaces = (spec.linux?.namespaces ?? []).flatMap((n) => (n.path ? [n.path] : []));
  } catch {
    // no spec: the stamp says so, and a start makes the container again
  }
  return [join(bundle, 'config.json'), join(bundle, 'rootfs-mounts.json'), ...namespaces].map(id).join('/');
}

/** A runtime container made ahead of the first start: conmon is its parent, its init waits on runc's exec FIFO. */
interface Prepared {
  pid: number;
  stamp: string;
  timer: NodeJS.Timeout;
}

function alive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True once the process is gone or a zombie (a dead conmon waits for its reaper). */
function ended(pid: number): boolean {
  if (pid <= 0) return true;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * conmon writes the exit file when it reaps the container, and may still be copying the
 * container's last output into the log: the output is complete only once conmon has ended.
 */
async function conmonEnded(pid: number, deadlineMs = 2_000): Promise<void> {
  // conmon is not this process's child (it daemonizes): polled, finely, as it is on every exit's path.
  for (const until = Date.now() + deadlineMs; !ended(pid) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 1));
}

function readPid(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * A container whose parent is its conmon. Nothing about the container lives only in this
 * process: the pid files, conmon's exit file and the log are on disk, so a monitor started
 * again reads them and carries on (`recover`).
 */
export class ConmonContainer extends RuntimeContainer implements ShimContainer {
  private pid = 0;
  private exit: ExitRecord | undefined;
  /** Exits seen; a follower of one run stops once this passes the count it started with. */
  private exits = 0;
  private waiters: ((r: ExitRecord) => void)[] = [];
  private readonly p: ConmonPaths;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private starting = false;
  /** The runtime container `prepare` is making or has made; taken by the first start. */
  private prepared: Promise<Prepared | undefined> | undefined;
  /** A prepared container being dropped: nothing makes the next one before it is gone. */
  private dropping: Promise<void> | undefined;
  private readonly stdin: ConmonStdin;
  /** `--log-driver none`: attach output comes from conmon's attach socket, there is no log to follow. */
  private readonly noLog: boolean;
  private readonly output = new AttachOutput();
  /** Docker's max-size/max-file, done here while the container runs (conmon itself would truncate). */
  private readonly rotator: LogRotator | undefined;
  /** A StdinOnce container's stdin is closed by the first client that closes it, once a run. */
  private stdinTaken = false;
  /** Attach followers still reading this run's output from the log. */
  private readonly followers = new Set<Promise<void>>();
  /** Followers waiting for more rows, woken when the run's exit is counted (not at their next poll). */
  private readonly exitWakes = new Set<() => void>();
  private readonly onExit = (wake: () => void) => {
    this.exitWakes.add(wake);
    return () => this.exitWakes.delete(wake);
  };

  constructor(
    o: ShimOptions,
    bundle: string,
    private readonly logger: Logger,
  ) {
    super(o, bundle);
    this.p = conmonPaths(bundle, o);
    this.noLog = keepsNoLog(o);
    this.stdin = new ConmonStdin(bundle, this.noLog ? (p) => this.output.packet(p) : undefined);
    this.rotator = o.logMaxSize > 0 ? new LogRotator(this.p.log, this.p.ctl, o.logMaxSize, Math.max(1, o.logMaxFile), logger, o.logCompress === true) : undefined;
  }

  private get maxFile(): number {
    return this.o.logMaxSize > 0 ? Math.max(1, this.o.logMaxFile) : 1;
  }

  private get exitFile(): string {
    return join(this.p.exitDir, this.o.id);
  }

  /** What the files say: a run whose conmon lives is still going; an exit file not yet recorded is recorded now. */
  async recover(): Promise<void> {
    // A split of the log a kill -9 cut short, before anything reads the log.
    this.rotator?.finishOnDisk();
    this.exit = readExitRecord(this.bundle);
    this.status = this.exit ? 'stopped' : 'created';
    const conmon = readPid(this.p.conmonPid);
    if (existsSync(this.exitFile)) {
      await this.finish();
      return;
    }
    if (alive(conmon)) {
      const runtime = await this.runtimeStatus();
      if (runtime === 'created') {
        // Prepared (or a start that died before `runc start`): the supervisor's Start failed or has
        // not come, so the container is Created; the next start makes it again.
        await this.drop(conmon, true);
        return;
      }
      this.pid = readPid(this.p.initPid);
      this.status = runtime === 'paused' ? 'paused' : 'running';
      this.exit = undefined;
      this.watchExit();
      return;
    }
    // A run started after the last recorded exit (its init.pid is written at each runc create;
    // a dropped prepare removes it) ended
    // while no monitor watched, and conmon's exit file is gone: its code is lost, and the exit
    // of the run before is not this run's.
    if (this.startedSince(this.exit)) await this.finish(255);
  }

  private startedSince(exit: ExitRecord | undefined): boolean {
    try {
      return Math.floor(statSync(this.p.initPid).mtimeMs) > (exit?.exitedUnixMs ?? 0);
    } catch {
      return false;
    }
  }

  private async runtimeStatus(): Promise<string> {
    try {
      return (JSON.parse(await this.rt.call('state', this.o.id)) as { status?: string }).status ?? '';
    } catch {
      return '';
    }
  }

  state() {
    return { status: this.status, pid: this.live() ? this.pid : 0, exitCode: this.exit?.exitCode ?? 0, exitedUnixMs: this.exit?.exitedUnixMs ?? 0 };
  }

  /**
   * `docker create` is followed by a start at once in nearly every use (`docker run`, compose,
   * client libraries), and `runc create` is most of a start: it is done here, ahead, for a
   * container that has never run. The start then finds it made (`takePrepared`).
   */
  async prepare(): Promise<boolean> {
    // Asked twice (at Adopt, then on the container's socket): the second waits for the first.
    if (this.prepared && !this.starting) return (await this.prepared) !== undefined;
    if (this.live() || this.starting || this.exit || this.dropping) return false;
    this.prepared = (async (): Promise<Prepared | undefined> => {
      try {
        // Taken before the runtime reads the spec: an update written while it does must void what it makes.
        const stamp = bundleStamp(this.bundle);
        const pid = await this.createRuntime('monitor prepare: conmon + runc create');
        const timer = setTimeout(() => void this.dropPrepared(), PREPARED_TTL_MS);
        timer.unref();
        return { pid, stamp, timer };
      } catch (err) {
        // The start will do it again and report what fails.
        this.logger.info({ err: String(err) }, 'prepare failed');
        await this.drop(readPid(this.p.conmonPid), false).catch(() => undefined);
        return undefined;
      }
    })();
    return (await this.prepared) !== undefined;
  }

  /** The prepared container's init, when it is still there and made from the bundle as it is now; else 0. */
  private async takePrepared(): Promise<number> {
    const p = this.prepared;
    this.prepared = undefined;
    const made = p ? await traced('monitor start: prepared wait', this.o.id, p) : undefined;
    if (!made) return 0;
    clearTimeout(made.timer);
    const conmon = readPid(this.p.conmonPid);
    if (made.stamp === bundleStamp(this.bundle) && alive(made.pid) && alive(conmon) && !existsSync(this.exitFile)) return made.pid;
    await this.drop(conmon, false);
    return 0;
  }

  /** The ttl's end: the prepared container goes, and with it the rootfs mount. */
  private async dropPrepared(): Promise<void> {
    if (this.starting || !this.prepared) return;
    const p = this.prepared;
    this.prepared = undefined;
    const made = await p;
    if (made && !this.starting && !this.live()) await this.drop(readPid(this.p.conmonPid), true);
  }

  /** Ends a runtime container that never started: conmon, the runtime's state (its init with it), optionally the rootfs mount. */
  private drop(conmon: number, unmount: boolean): Promise<void> {
    const run = (async () => {
      if (alive(conmon)) {
        try {
          process.kill(conmon, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await this.deleteRuntimeState('monitor prepare: drop');
      rmSync(this.exitFile, { force: true });
      // Never run: a monitor started later must not take its init.pid for a run that ended unseen.
      rmSync(this.p.initPid, { force: true });
      if (unmount) unmountRootfs(this.bundle);
      this.status = this.exit ? 'stopped' : 'created';
    })();
    // Waiters only need it over, not its outcome: the caller of drop hears a failure.
    const over: Promise<void> = run.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      if (this.dropping === over) this.dropping = undefined;
    });
    this.dropping = over;
    return run;
  }

  /** Mounts the rootfs and has conmon run `runc create`: the container's init then waits for `runc start`. */
  private async createRuntime(step: string): Promise<number> {
    // A previous run's exit may still be deleting its runtime state; that delete must not meet this run's.
    await this.finishing;
    await this.dropping;
    await this.deleteRuntimeState('monitor start: runc delete (stale)');
    const end = span('monitor start: mount rootfs', this.o.id);
    await mountRootfs(this.bundle);
    rmSync(this.exitFile, { force: true });
    rmSync(this.p.initPid, { force: true });
    end();
    return traced(step, this.o.id, createUnderConmon(this.bundle, this.o, this.p));
  }

  async start(): Promise<number> {
    if (this.live() || this.starting) throw failedPrecondition(`container ${this.o.id} is already running`);
    this.starting = true;
    try {
      const pid = (await this.takePrepared()) || (await this.createRuntime('monitor start: conmon + runc create'));
      // Before `runc start`: stdin sent by a client that attached first is there when the
      // process starts, and with no log a client that attached first gets all the output.
      if (this.o.openStdin || this.noLog) this.stdin.connect();
      try {
        await traced('monitor start: runc start', this.o.id, this.rt.start(pid));
      } catch (err) {
        await this.rt.delete();
        throw err;
      }
      this.pid = pid;
      this.exit = undefined;
      this.status = 'running';
      this.watchExit();
      return pid;
    } finally {
      this.starting = false;
    }
  }

  private watchExit(): void {
    this.stopWatching();
    const check = () => {
      if (!this.live()) return;
      if (existsSync(this.exitFile)) void this.finish();
      else if (!alive(readPid(this.p.conmonPid)) && !alive(this.pid)) void this.finish(255);
    };
    try {
      this.watcher = watch(this.p.exitDir, check);
      this.watcher.on('error', () => undefined);
    } catch {
      // the poll covers it
    }
    this.poll = setInterval(check, POLL_MS);
    this.poll.unref();
    this.rotator?.start();
    check();
  }

  private stopWatching(): void {
    this.rotator?.stop();
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }

  private finishing: Promise<void> | undefined;

  /** Records the exit conmon wrote (its code; the file's time is the exit's time). */
  private finish(lostCode?: number): Promise<void> {
    this.finishing ??= (async () => {
      this.stopWatching();
      let rec: ExitRecord;
      try {
        const code = Number(readFileSync(this.exitFile, 'utf8').trim());
        rec = { exitCode: Number.isFinite(code) ? code : 255, exitedUnixMs: Math.round(statSync(this.exitFile).mtimeMs) };
        traceDuration('monitor exit: seen after exit file', this.o.id, Date.now() - rec.exitedUnixMs);
      } catch {
        rec = { exitCode: lostCode ?? 255, exitedUnixMs: Date.now() };
      }
      await traced('monitor exit: conmon ends', this.o.id, conmonEnded(readPid(this.p.conmonPid)));
      // Before the exit is answered: a reader after it (an --rm removal's followers too) finds dockerd's files.
      await this.rotator?.settle();
      // With no log the run's last output is still on the way through the socket conmon closed.
      if (this.noLog) await this.stdin.drained(1_000);
      writeExitRecord(this.bundle, rec);
      this.stdin.drop();
      // The next run's stdin is closed by its first client again; one may close it before that run starts.
      this.stdinTaken = false;
      rmSync(this.exitFile, { force: true });
      this.exit = rec;
      this.status = 'stopped';
      this.exits++;
      this.output.end();
      for (const wake of [...this.exitWakes]) wake();
      // The supervisor hears of the exit now, while the followers copy the run's last output: a
      // client's wait is held by the gateway until its attach streams have ended (as dockerd
      // does), and the shutdown of an --rm removal waits for the followers before the log goes.
      for (const w of this.waiters.splice(0)) w(rec);
      this.logger.info({ exitCode: rec.exitCode }, 'container exited');
      // A next run starts only after them: a follower of this run must never read the next one's output.
      await traced('monitor exit: attach followers done', this.o.id, this.followersDone());
      // Still part of finishing: a start or shutdown waits for it, so it never meets the next run.
      await this.deleteRuntimeState('monitor exit: runc delete');
    })().finally(() => (this.finishing = undefined));
    return this.finishing;
  }

  /** Attach followers have read the ended run's output (bounded: a stalled client cannot hold the exit). */
  private async followersDone(): Promise<void> {
    if (this.followers.size) await Promise.race([Promise.allSettled([...this.followers]), new Promise((r) => setTimeout(r, 5_000))]);
  }

  /**
   * `runc delete --force`, only when the runtime still has state for the container: a fresh
   * container, or one whose exit already deleted it, would cost a runtime process for nothing.
   */
  private async deleteRuntimeState(step: string): Promise<void> {
    if (!existsSync(join(this.o.runtimeRoot, this.o.id))) return;
    await traced(step, this.o.id, this.rt.delete());
  }

  async wait(): Promise<ExitRecord> {
    if (this.live()) return new Promise((r) => this.waiters.push(r));
    if (this.exit) return this.exit;
    throw failedPrecondition(`container ${this.o.id} has not been started`);
  }

  resize(rows: number, cols: number): void {
    if (!this.o.tty) throw failedPrecondition(`container ${this.o.id} has no TTY`);
    this.running();
    // conmon holds the terminal's master; its ctl FIFO takes `1 <height> <width>` (it ignores sizes over 1000).
    let fd: number;
    try {
      fd = openSync(this.p.ctl, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw failedPrecondition(`container ${this.o.id}: conmon does not take a resize (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      writeSync(fd, `1 ${Math.min(rows, 1000)} ${Math.min(cols, 1000)}\n`);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Live output is the log as conmon writes it, from the end it has now: the next run's (or this
   * run's) bytes, until that run exits. Stdin goes to conmon's attach socket; before the run
   * starts it waits there (bounded) until the socket exists.
   */
  attach(streams: Set<StreamName>, sub: Omit<Subscriber, 'streams'>): AttachHandle {
    if (this.noLog) return this.attachLive(streams, sub);
    const until = this.exits + 1;
    let left = false;
    const from = existsSync(this.p.log) ? statSync(this.p.log).size : 0;
    const follower = (async () => {
      const it = await openRotatedK8sLog(this.p.log, this.maxFile, { tail: -1, sinceNano: 0n, untilNano: 0n, fromOffset: from, follow: { ended: () => left || this.exits >= until, onEnd: this.onExit } }, this.rotator?.onRotate);
      for await (const batch of it) {
        if (left) break;
        // Consecutive rows of one stream go out as one message: a row each would be a message each.
        let run: Buffer[] = [];
        let runStream: StreamName | undefined;
        const flush = () => {
          if (runStream && run.length) sub.data(runStream, run.length === 1 ? run[0]! : Buffer.concat(run));
          run = [];
        };
        for (const l of batch) {
          if (!streams.has(l.stream)) continue;
          if (l.stream !== runStream) {
            flush();
            runStream = l.stream;
          }
          run.push(l.line);
        }
        flush();
        // The log is the buffer: the next read waits until the client has taken this one.
        await sub.ready?.();
      }
      if (!left) sub.end();
    })().catch((err: unknown) => {
      this.logger.warn({ err: String(err) }, 'attach ended');
      if (!left) sub.end();
    });
    this.followers.add(follower);
    void follower.finally(() => this.followers.delete(follower));
    return this.stdinHandle(() => {
      left = true;
    });
  }

  /** With no log: the output of this run (or the next, between runs) as conmon's socket brings it. */
  private attachLive(streams: Set<StreamName>, sub: Omit<Subscriber, 'streams'>): AttachHandle {
    const remove = this.output.add({ streams, data: (s, b) => sub.data(s, b), end: () => sub.end() });
    // A monitor started again after a crash has no connection until a client wants one.
    if (this.live()) this.stdin.connect();
    return this.stdinHandle(remove);
  }

  private stdinHandle(leave: () => void): AttachHandle {
    return {
      stdin: (b: Buffer) => {
        if (!this.o.openStdin) return;
        // A monitor started again after a crash connects on the first byte it has to send.
        if (this.live()) this.stdin.connect();
        this.stdin.write(b);
      },
      stdinFull: () => this.stdin.full(),
      closeStdin: () => {
        // `-i` without StdinOnce (`docker run -d -i`) keeps stdin open for later clients.
        if (!this.o.openStdin || !this.o.stdinOnce || this.stdinTaken) return;
        this.stdinTaken = true;
        if (this.live()) this.stdin.connect();
        // A terminal has no stdin of its own to close: EOT is what a shell reads as the end.
        if (this.o.tty) this.stdin.write(Buffer.from([4]));
        this.stdin.close();
      },
      leave,
    };
  }

  async logs(opts: LogsOptions): Promise<AsyncGenerator<Buffer | LogLine[]>> {
    assertLogReadable(this.o);
    const until = this.exits + 1;
    const live = opts.follow && this.live();
    return openRotatedK8sLog(this.p.log, this.maxFile, {
      tail: opts.tail,
      sinceNano: opts.sinceNano,
      untilNano: opts.untilNano,
      follow: live ? { ended: () => opts.left() || this.exits >= until } : undefined,
      frames: opts.frames,
    }, this.rotator?.onRotate);
  }

  /** Leaves nothing behind: kills what runs, removes runtime state, unmounts the rootfs. */
  async shutdown(): Promise<void> {
    // A prepare still on its way must be done before what it makes is taken down below.
    const made = await this.prepared;
    this.prepared = undefined;
    if (made) clearTimeout(made.timer);
    await this.dropping;
    await this.endRun(() => this.wait());
    this.stopWatching();
    await this.finishing;
    // An --rm removal comes right after the exit: attached clients must have their last output
    // from the log before the supervisor deletes it.
    await this.followersDone();
    const conmon = readPid(this.p.conmonPid);
    if (alive(conmon)) {
      try {
        process.kill(conmon, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await this.finishing;
    await this.deleteRuntimeState('monitor shutdown: runc delete');
    const end = span('monitor shutdown: unmount', this.o.id);
    unmountRootfs(this.bundle);
    end();
  }

  /** Stops watching without touching the container (the monitor is exiting or letting it go). */
  release(): void {
    this.stopWatching();
  }
}
