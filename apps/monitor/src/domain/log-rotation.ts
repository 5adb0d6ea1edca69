import { closeSync, constants, existsSync, openSync, renameSync, rmSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '@berth/logging';
import { compressAll, compressedName, compressRotated, finishSplit, heldName, rotatedName, splitOverSize } from '@berth/json-log';


/** After a write is seen, the size is looked at once this much later: a fast writer costs a stat per period, not per write. */
const CHECK_DELAY_MS = 25;
/** A watch can miss events (a busy directory overflows inotify): the size is also looked at this often. */
const POLL_MS = 1_000;
/** conmon creates the new file as soon as it reads the message; past this it is taken as gone. */
const REOPEN_DEADLINE_MS = 5_000;

/**
 * Docker's max-size/max-file for a log that conmon writes. conmon truncates at its own size limit,
 * so the monitor rotates instead: it renames the live file to `<log>.rotating` (conmon keeps
 * writing into it by its descriptor: nothing is lost) and asks conmon, through its control FIFO
 * (message type 2), to open the path again; once conmon's new file is there, `.1 … .(N-2)` move
 * up and the renamed file becomes `.1`. With max-file 1 Docker keeps only the current file, so the
 * renamed one is removed then (a reader that has it open still reads it to its end). After the
 * exit, a live file left past max-size (a burst shorter than a check) is cut as dockerd would have
 * cut it (`log-split.ts`), with a `.1` that a late rotation left past max-size.
 *
 * Everything it needs is on disk: a monitor started again after `kill -9` finds a rename whose
 * reopen was never sent (`.rotating` there, the live path missing) and sends it, or a reopen
 * whose move to `.1` was not done and does it.
 *
 * With `compress`, each new `.1` is gzipped to `.1.gz` in the background (`log-compress.ts`); the
 * next rotation and the exit's cut wait for it, so only `.1` is ever plain, and only for a while.
 */
export class LogRotator {
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private rotating = false;
  /** The compression of `.1` (or, after a restart, of what a crash left plain) under way. */
  private compressing: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(reshaping?: boolean) => void>();

  constructor(
    private readonly log: string,
    private readonly ctl: string,
    private readonly maxSize: number,
    private readonly maxFile: number,
    private readonly logger: Logger,
    private readonly compress = false,
  ) {}

  /**
   * Calls `rotated()` each time the path has a new file, in the same turn (followers open it at
   * once), and `rotated(true)` just before the ended run's files are cut into pieces (the file at
   * the path is still the one conmon wrote: a follower waiting for its first file opens it then).
   */
  readonly onRotate = (rotated: (reshaping?: boolean) => void): (() => void) => {
    this.listeners.add(rotated);
    return () => this.listeners.delete(rotated);
  };

  private rotated(reshaping?: boolean): void {
    for (const l of [...this.listeners]) l(reshaping);
  }

  start(): void {
    this.stopped = false;
    const name = basename(this.log);
    try {
      // The directory, not the file: a watch on the file would stay on the renamed one.
      this.watcher = watch(dirname(this.log), (_event, file) => {
        if (!file || file === name) this.soon();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // the poll covers it
    }
    this.poll = setInterval(() => this.soon(), POLL_MS);
    this.poll.unref();
    void this.recover().then(() => this.soon());
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    if (this.pending) clearTimeout(this.pending);
    this.poll = this.pending = undefined;
  }

  /**
   * After the container's exit (conmon gone, nothing writes the log): a rotation whose reopen
   * conmon did not live to do is undone, the renamed file is the live one again with every rotated
   * file still in its place (inspect's LogPath names a file, the next run appends to it); then a
   * live file past max-size is cut into Docker's shape. Before the exit is answered: whoever reads
   * the log after it sees dockerd's files.
   */
  async settle(): Promise<void> {
    this.stop();
    await this.compressing;
    this.finishOnDisk();
    if (!existsSync(this.log)) {
      // Its followers hold the renamed file open already and read it to its end.
      if (existsSync(heldName(this.log))) renameSync(heldName(this.log), this.log);
      else if (existsSync(rotatedName(this.log, 1))) renameSync(rotatedName(this.log, 1), this.log);
      else closeSync(openSync(this.log, 'a', 0o640));
      // A follower waiting for its first file: this is it.
      this.rotated(true);
    } else if (existsSync(heldName(this.log))) this.moveHeld();
    try {
      await splitOverSize(this.log, this.maxSize, this.maxFile, { beforeCommit: () => this.rotated(true) });
    } catch (err) {
      // The live file still has every row: it reads correctly, only past max-size.
      this.logger.warn({ err: String(err), log: this.log }, 'log split failed');
      this.finishOnDisk();
    }
    if (this.maxFile === 1) rmSync(rotatedName(this.log, 1), { force: true });
    // The cut's pieces are plain: compressed before the exit is answered, as they would have been one at a time.
    if (this.compress) await this.compressInBackground(() => compressAll(this.log, this.maxFile));
  }

  /** Runs one compression at a time; a failure leaves the file plain, which reads the same. */
  private compressInBackground(job: () => Promise<unknown>): Promise<void> {
    const run = (this.compressing ?? Promise.resolve())
      .then(job)
      .catch((err: unknown) => this.logger.warn({ err: String(err), log: this.log }, 'log compression failed'))
      .then(() => {
        if (this.compressing === run) this.compressing = undefined;
      });
    this.compressing = run;
    return run;
  }

  /** A split a crash cut short is finished (or dropped when not all of it was written); before anything reads the log. */
  finishOnDisk(): void {
    try {
      finishSplit(this.log);
    } catch (err) {
      this.logger.warn({ err: String(err), log: this.log }, 'log split not finished');
    }
  }

  /** A rename left without its reopen or its move to `.1` (the monitor died in between), or a max-file 1 `.1` left behind. */
  private async recover(): Promise<void> {
    this.finishOnDisk();
    const first = rotatedName(this.log, 1);
    const held = existsSync(heldName(this.log));
    if (!existsSync(this.log) && (held || existsSync(first))) {
      this.rotating = true;
      try {
        if ((await this.reopen()) && held) this.moveHeld();
        else if (existsSync(this.log) && !held) this.rotated();
      } finally {
        this.rotating = false;
      }
    } else if (held) this.moveHeld();
    if (this.maxFile === 1 && existsSync(this.log)) rmSync(first, { force: true });
    // A compression the crash cut short: its partial file goes, a finished one loses its plain twin, the rest is compressed.
    if (this.compress) void this.compressInBackground(() => compressAll(this.log, this.maxFile));
  }

  private soon(): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.check();
    }, CHECK_DELAY_MS);
  }

  private async check(): Promise<void> {
    if (this.rotating || this.stopped) return;
    let size: number;
    try {
      size = statSync(this.log).size;
    } catch {
      return;
    }
    if (size < this.maxSize) return;
    this.rotating = true;
    try {
      await this.rotate();
    } catch (err) {
      this.logger.warn({ err: String(err), log: this.log }, 'log rotation failed');
    } finally {
      this.rotating = false;
    }
    // A fast writer may have filled the new file meanwhile.
    this.soon();
  }

  private async rotate(): Promise<void> {
    // The shift renames `.1`: not while it is being compressed.
    await this.compressing;
    // settle() may have begun meanwhile: the file is its to put in shape now.
    if (this.stopped) return;
    renameSync(this.log, heldName(this.log));
    // A reopen cut short by the exit leaves the held file: settle() makes it the live one again.
    if (await this.reopen()) this.moveHeld();
  }

  /**
   * conmon has its new file: the rotated files move up (renaming over the last name drops the
   * oldest) and the held one becomes `.1`, all in one turn, then the followers are told.
   */
  private moveHeld(): void {
    const held = heldName(this.log);
    if (!existsSync(held)) return;
    if (this.maxFile === 1) rmSync(held, { force: true });
    else {
      for (let n = this.maxFile - 1; n >= 2; n--) {
        // With compress the file is `.n-1.gz`, or `.n-1` when its compression failed: the one
        // that moves takes the name's place whole, so `.n` never is both (a restart would keep only the `.gz`).
        if (moved(rotatedName(this.log, n - 1), rotatedName(this.log, n))) {
          if (this.compress) rmSync(compressedName(this.log, n), { force: true });
        } else if (this.compress && moved(compressedName(this.log, n - 1), compressedName(this.log, n))) rmSync(rotatedName(this.log, n), { force: true });
      }
      renameSync(held, rotatedName(this.log, 1));
    }
    this.rotated();
    if (this.compress && this.maxFile > 1) void this.compressInBackground(() => compressRotated(this.log, 1));
  }

  /**
   * conmon opens `<log>.tmp` truncated and renames it over the path: the message must only go
   * when the path is not there, or it would empty a live log. Resolves once the new file exists.
   */
  private async reopen(): Promise<boolean> {
    if (existsSync(this.log)) return false;
    let fd: number;
    try {
      fd = openSync(this.ctl, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      // No reader: conmon is gone and writes nothing more; the next start writes a new log.
      if ((err as NodeJS.ErrnoException).code === 'ENXIO' || (err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    try {
      writeSync(fd, '2 0 0\n');
    } finally {
      closeSync(fd);
    }
    for (const until = Date.now() + REOPEN_DEADLINE_MS; ; ) {
      // Stopped first: settle() may have put the held file back at the path meanwhile.
      if (this.stopped) return false;
      if (existsSync(this.log)) return true;
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** A rename of a file that may not be there; whether it was. */
function moved(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return false;
  }
}
