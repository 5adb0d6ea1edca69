import { closeSync, constants, existsSync, openSync, renameSync, rmSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '@berth/logging';

/** After a write is seen, the size is looked at once this much later: a fast writer costs a stat per period, not per write. */
const CHECK_DELAY_MS = 25;
/** A watch can miss events (a busy directory overflows inotify): the size is also looked at this often. */
const POLL_MS = 1_000;
/** conmon creates the new file as soon as it reads the message; past this it is taken as gone. */
const REOPEN_DEADLINE_MS = 5_000;

/** `<log>.<n>`: Docker's names for rotated json-file logs, `.1` the newest. */
export function rotatedName(log: string, n: number): string {
  return `${log}.${n}`;
}

/**
 * Docker's max-size/max-file for a log that conmon writes. conmon truncates at its own size limit,
 * so the monitor rotates instead: it shifts `.1 … .(N-2)` up, renames the live file to `.1` (conmon
 * keeps writing into it by its descriptor: nothing is lost) and asks conmon, through its control
 * FIFO (message type 2), to open the path again; conmon then writes a new file there. With
 * max-file 1 Docker keeps only the current file, so `.1` is removed once conmon has the new one
 * (a reader that has it open still reads it to its end).
 *
 * Everything it needs is on disk: a monitor started again after `kill -9` finds a rename whose
 * reopen was never sent (the live path missing while `.1` is there) and sends it.
 */
export class LogRotator {
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private rotating = false;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly log: string,
    private readonly ctl: string,
    private readonly maxSize: number,
    private readonly maxFile: number,
    private readonly logger: Logger,
  ) {}

  /** Calls `rotated` each time the path has a new file, in the same turn (followers open it at once). */
  readonly onRotate = (rotated: () => void): (() => void) => {
    this.listeners.add(rotated);
    return () => this.listeners.delete(rotated);
  };

  private rotated(): void {
    for (const l of [...this.listeners]) l();
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
   * After the container's exit: a rotation whose reopen conmon did not live to do leaves no live
   * file; its `.1` becomes the live file again (inspect's LogPath names a file, the next run
   * appends to it). With max-file 2 or more, the `.1` that rename replaced is lost then.
   */
  settle(): void {
    this.stop();
    if (!existsSync(this.log)) {
      // The rename's file holds the run's last output: it is the current file again. (Its
      // followers hold it open already; a new empty file here instead cut an attach's last lines.)
      if (existsSync(rotatedName(this.log, 1))) renameSync(rotatedName(this.log, 1), this.log);
      else closeSync(openSync(this.log, 'a', 0o640));
      this.rotated();
    }
    if (this.maxFile === 1) rmSync(rotatedName(this.log, 1), { force: true });
  }

  /** A rename left without its reopen (the monitor died in between), or a max-file 1 `.1` left behind. */
  private async recover(): Promise<void> {
    const first = rotatedName(this.log, 1);
    if (!existsSync(this.log) && existsSync(first)) {
      this.rotating = true;
      try {
        await this.reopen();
      } finally {
        this.rotating = false;
      }
    }
    if (this.maxFile === 1 && existsSync(this.log)) rmSync(first, { force: true });
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
    // Renaming over the last name drops the oldest file.
    for (let n = this.maxFile - 1; n >= 2; n--) {
      try {
        renameSync(rotatedName(this.log, n - 1), rotatedName(this.log, n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    renameSync(this.log, rotatedName(this.log, 1));
    // A reopen cut short by the exit leaves `.1` the last file: settle() makes it the live one again.
    if ((await this.reopen()) && this.maxFile === 1) rmSync(rotatedName(this.log, 1), { force: true });
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
    for (const until = Date.now() + REOPEN_DEADLINE_MS; !existsSync(this.log); ) {
      if (Date.now() > until || this.stopped) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    this.rotated();
    return true;
  }
}
