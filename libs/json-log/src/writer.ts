import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeEntry, type LogLine } from './format';

/**
 * Docker's json-file log, written: one `{"log","stream","time"}` row per entry. With a size
 * limit the file rotates to `.1`, `.2`, ... keeping `maxFiles` files in all. Writes are
 * synchronous: a container that writes faster than the disk is slowed down, never dropped.
 */
export class JsonLogWriter {
  private fd: number;
  private size: number;
  private readonly listeners = new Set<() => void>();
  private readonly rotateListeners = new Set<() => void>();

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    readonly maxFiles: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a', 0o640);
    this.size = statSync(path).size;
  }

  write(l: LogLine): void {
    this.writeMany([l]);
  }

  /** Several entries with as few writes as rotation allows (one system call per line is slow). */
  writeMany(lines: LogLine[]): void {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (!batchBytes) return;
      const bytes = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off);
      this.size += bytes.length;
      batch = [];
      batchBytes = 0;
    };
    for (const l of lines) {
      const row = encodeEntry(l);
      if (this.maxBytes > 0 && this.size + batchBytes > 0 && this.size + batchBytes + row.length > this.maxBytes) {
        flush();
        this.rotate();
      }
      batch.push(row);
      batchBytes += row.length;
    }
    flush();
  }

  /** Readers that follow the log are told after each batch of writes (see `changed`). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Followers in this process are told synchronously after each rotation, the new file open. */
  onRotate(fn: () => void): () => void {
    this.rotateListeners.add(fn);
    return () => this.rotateListeners.delete(fn);
  }

  changed(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.maxFiles <= 1) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.maxFiles - 1}`, { force: true });
      for (let i = this.maxFiles - 2; i >= 1; i--) {
        try {
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = 0;
    for (const fn of [...this.rotateListeners]) fn();
  }

  close(): void {
    closeSync(this.fd);
  }
}
