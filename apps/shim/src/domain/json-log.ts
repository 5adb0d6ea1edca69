import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type StreamName = 'stdout' | 'stderr';

export interface LogLine {
  stream: StreamName;
  line: Buffer;
  timeNano: bigint;
}

/** RFC3339 with nanoseconds in UTC, as Docker's json-file driver writes `time`. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

export function nowNano(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

function parseTime(s: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(s);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}Z`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
}

/**
 * Docker's json-file log: one `{"log","stream","time"}` object per line. With a size limit the
 * file rotates to `.1`, `.2`, ... keeping `maxFiles` files in all.
 */
export class JsonLog {
  private fd: number;
  private size: number;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly maxFiles: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a', 0o640);
    this.size = statSync(path).size;
  }

  write(l: LogLine): void {
    const rec = `${JSON.stringify({ log: l.line.toString('utf8'), stream: l.stream, time: rfc3339Nano(l.timeNano) })}\n`;
    const bytes = Buffer.from(rec);
    if (this.maxBytes > 0 && this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.maxFiles <= 1) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.maxFiles - 1}`, { force: true });
      for (let i = this.maxFiles - 2; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = 0;
  }

  /** Every kept line, oldest file first. */
  readAll(): LogLine[] {
    const files: string[] = [];
    for (let i = this.maxFiles - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) files.push(`${this.path}.${i}`);
    files.push(this.path);
    const out: LogLine[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const row of text.split('\n')) {
        if (!row) continue;
        try {
          const r = JSON.parse(row) as { log: string; stream: StreamName; time: string };
          out.push({ stream: r.stream, line: Buffer.from(r.log, 'utf8'), timeNano: parseTime(r.time) });
        } catch {
          // a torn last line after a crash: skip it
        }
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Splits a byte stream into lines (keeping the newline); `flush` returns the partial rest. */
export class LineSplitter {
  private rest = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, start)) {
      lines.push(data.subarray(start, i + 1));
      start = i + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }
  flush(): Buffer | undefined {
    if (!this.rest.length) return undefined;
    const r = this.rest;
    this.rest = Buffer.alloc(0);
    return r;
  }
}
