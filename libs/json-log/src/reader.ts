import { isUtf8 } from 'node:buffer';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { LogLine } from './format';
import { decodeRow } from './row-scan';
import { logFiles } from './files';

/** Bytes read at a time: memory stays bounded by this (plus one row) whatever the log's size. */
const CHUNK = 1024 * 1024;
/** A row longer than this cannot be one our writer made (entries are cut at 16 KiB). */
const MAX_ROW = 8 * 1024 * 1024;
/** A follower also polls this often, for writers in another process. */
const POLL_MS = 250;

export interface Follow {
  /** Calls `fn` after new rows were written or the writer ended; returns how to stop. */
  onChange(fn: () => void): () => void;
  /** True once nothing more will be written (the process has exited). */
  ended(): boolean;
}

export interface ReadOptions {
  maxFiles: number;
  /** Last N rows only (counted over both streams, as Docker does); negative means all. */
  tail: number;
  /** Bounds on the entries' time, nanoseconds since 1970; 0n means none. */
  sinceNano: bigint;
  untilNano: bigint;
  /** Keep reading new rows (across rotations) until the writer ends. */
  follow?: Follow;
}

interface Source {
  fh: FileHandle;
  ino: number;
  size: number;
}

async function openSource(path: string): Promise<Source | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    // Rotated away between listing and opening, or not written yet.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const st = await fh.stat();
  return { fh, ino: st.ino, size: st.size };
}

/** Cuts a file's bytes into entries from `pos` on, a chunk at a time; a row that does not parse (torn by a crash) is skipped. */
class Rows {
  private carry: Buffer = Buffer.alloc(0);
  constructor(
    readonly src: Source,
    private pos: number,
  ) {}

  /** Entries completed by the next chunk; `eof` when nothing more was there to read. */
  async next(): Promise<{ rows: LogLine[]; eof: boolean }> {
    // A fresh buffer each time: entries may be views of it until the caller is done with them.
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.src.fh.read(buf, 0, CHUNK, this.pos);
    if (bytesRead === 0) return { rows: [], eof: true };
    this.pos += bytesRead;
    const data = this.carry.length ? Buffer.concat([this.carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const last = data.lastIndexOf(10);
    // One check for the whole chunk of complete rows lets the scan copy bytes as they are.
    const utf8 = last >= 0 && isUtf8(data.subarray(0, last));
    const rows: LogLine[] = [];
    let start = 0;
    for (let nl = last >= 0 ? data.indexOf(10) : -1; nl >= 0; nl = data.indexOf(10, start)) {
      if (nl > start) {
        try {
          rows.push(decodeRow(data, start, nl, utf8));
        } catch {
          // torn row
        }
      }
      start = nl + 1;
    }
    if (data.length - start > MAX_ROW) throw new Error(`log entry longer than ${MAX_ROW} bytes in ${this.src.fh.fd}`);
    this.carry = Buffer.from(data.subarray(start));
    return { rows, eof: false };
  }
}

/** Where the last `n` rows start: the index of the file and the offset in it. */
async function tailStart(files: Source[], n: number): Promise<{ idx: number; pos: number }> {
  if (n === 0) return { idx: files.length - 1, pos: files[files.length - 1]!.size };
  let need = n;
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let i = files.length - 1; i >= 0; i--) {
    const { fh, size } = files[i]!;
    let pos = size;
    while (pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      if (bytesRead !== len) throw new Error(`log file shrank while reading its tail`);
      for (let j = len - 1; j >= 0; j--) {
        // A newline starts a row unless it ends the file.
        if (buf[j] === 10 && pos + j + 1 < size && --need === 0) return { idx: i, pos: pos + j + 1 };
      }
    }
    if (size > 0 && --need === 0) return { idx: i, pos: 0 };
  }
  return { idx: 0, pos: 0 };
}

function waitChange(follow: Follow): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stop();
      clearTimeout(t);
      resolve();
    };
    const stop = follow.onChange(done);
    const t = setTimeout(done, POLL_MS);
  });
}

async function inodeAt(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Docker's json-file log, read: every kept file oldest first, in chunks (memory bounded
 * whatever the size), `tail` found by reading backwards from the end, and with `follow` new
 * rows as they come, across rotations, until the writer ends. Opening (files, tail) happens
 * before this resolves, so a log that cannot be read fails here, before any output; later I/O
 * errors are thrown by the iterator, never taken for the end of the log. Entries come in
 * batches. A row that does not parse (torn by a crash) is skipped.
 */
export async function openJsonLog(path: string, o: ReadOptions): Promise<AsyncGenerator<LogLine[]>> {
  const sources: Source[] = [];
  try {
    for (const f of logFiles(path, o.maxFiles)) {
      const s = await openSource(f);
      if (s) sources.push(s);
    }
    const start = sources.length && o.tail >= 0 ? await tailStart(sources, o.tail) : { idx: 0, pos: 0 };
    return entries(path, o, sources, start);
  } catch (err) {
    for (const s of sources) await s.fh.close().catch(() => undefined);
    throw err;
  }
}

async function* entries(path: string, o: ReadOptions, sources: Source[], start: { idx: number; pos: number }): AsyncGenerator<LogLine[]> {
  try {
    if (!sources.length && !o.follow) return;
    let { idx } = start;
    const seen = new Set(sources.map((s) => s.ino));
    const keep = (l: LogLine) => o.sinceNano === 0n || l.timeNano >= o.sinceNano;
    const pastUntil = (l: LogLine) => o.untilNano !== 0n && l.timeNano > o.untilNano;
    let drained = false;
    let rows: Rows | undefined = sources[idx] ? new Rows(sources[idx]!, start.pos) : undefined;
    for (;;) {
      const wasEnded = o.follow?.ended() ?? true;
      const got = rows ? await rows.next() : { rows: [], eof: true };
      if (got.rows.length) {
        const out: LogLine[] = [];
        for (const l of got.rows) {
          if (pastUntil(l)) {
            if (out.length) yield out;
            return;
          }
          if (keep(l)) out.push(l);
        }
        if (out.length) yield out;
      }
      if (!got.eof) continue;
      if (rows && idx < sources.length - 1) {
        rows = new Rows(sources[++idx]!, 0);
        continue;
      }
      if (!o.follow) return;
      // At the end of the newest file we know of: has the writer moved on to a new one?
      const cur = await inodeAt(path);
      if (cur !== undefined && cur !== rows?.src.ino) {
        if (rows && !drained) {
          // One more pass for rows written to the old file just before it was renamed.
          drained = true;
          continue;
        }
        drained = false;
        // Every file newer than ours that we have not read, oldest first (a file rotated out
        // of reach while we were away is gone, as in Docker).
        for (const f of logFiles(path, o.maxFiles)) {
          const ino = await inodeAt(f);
          if (ino === undefined || seen.has(ino)) continue;
          const s = await openSource(f);
          if (!s) continue;
          seen.add(s.ino);
          sources.push(s);
        }
        if (idx < sources.length - 1 || !rows) {
          idx = rows ? idx + 1 : sources.length - 1;
          if (sources[idx]) rows = new Rows(sources[idx]!, 0);
          continue;
        }
      }
      if (wasEnded) return;
      await waitChange(o.follow);
    }
  } finally {
    for (const s of sources) await s.fh.close().catch(() => undefined);
  }
}
