import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import { endWithError } from '@berth/grpc';
import { traced } from '@berth/logging';
import { filterPacked, forEachPacked, type FrameOptions, framesOfLines, type LogLine, packLines, splitNano } from '@berth/json-log';
import { shimV1 } from '@berth/proto';

/** What a Logs request asks of the log, as the monitor's reader takes it. */
export interface LogsQuery {
  follow: boolean;
  /** Bounds on the entries' time, nanoseconds since 1970; 0n means none. */
  sinceNano: bigint;
  untilNano: bigint;
  /** Last N entries (over both streams); negative means all. */
  tail: number;
  /** True once the caller has gone: a follower waiting for new lines stops at its next wake-up. */
  left(): boolean;
  /**
   * The caller takes the client's bytes (libs/json-log frames.ts): a reader that can build them
   * in its own pass yields them as its Buffer batches, of the wanted streams only; LogLine
   * batches are framed here.
   */
  frames?: FrameOptions;
}

/** Batches of entries: packed buffers (libs/json-log packed.ts) or LogLine arrays. */
export type LogBatches = AsyncGenerator<Buffer | readonly LogLine[]>;

/** Entries per message for callers that take batches but not packed entries. */
const BATCH_BYTES = 256 * 1024;
/** Bytes per packed message when the source hands over LogLine arrays of any size. */
const PACKED_BYTES = 1024 * 1024;

const KIND = { stdout: shimV1.StreamKind.STREAM_KIND_STDOUT, stderr: shimV1.StreamKind.STREAM_KIND_STDERR } as const;

function message(m: Partial<shimV1.LogEntry>): shimV1.LogEntry {
  return { stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, line: Buffer.alloc(0), timeUnixNano: 0, timeUnixSec: 0, timeNanos: 0, batch: [], packed: Buffer.alloc(0), frames: Buffer.alloc(0), ...m };
}

function entryOf(l: LogLine): shimV1.LogEntry {
  const t = splitNano(l.timeNano);
  return message({ stream: KIND[l.stream], line: l.line, timeUnixSec: t.sec, timeNanos: t.nanos });
}

function entriesOfPacked(buf: Buffer, want: (stream: number) => boolean): shimV1.LogEntry[] {
  const out: shimV1.LogEntry[] = [];
  forEachPacked(buf, (e) => {
    if (want(e.stream)) out.push(message({ stream: e.stream, line: buf.subarray(e.start, e.end), timeUnixSec: e.sec, timeNanos: e.nanos }));
  });
  return out;
}

function batched(entries: shimV1.LogEntry[]): shimV1.LogEntry[] {
  const out: shimV1.LogEntry[] = [];
  let cur: shimV1.LogEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    cur.push(e);
    bytes += e.line.length + 16;
    if (bytes >= BATCH_BYTES) {
      out.push(message({ batch: cur }));
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length) out.push(message({ batch: cur }));
  return out;
}

function packedMessages(lines: readonly LogLine[]): shimV1.LogEntry[] {
  const out: shimV1.LogEntry[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i;
    for (let bytes = 0; j < lines.length && (j === i || bytes + lines[j]!.line.length <= PACKED_BYTES); j++) bytes += lines[j]!.line.length + 20;
    out.push(message({ packed: packLines(lines.slice(i, j)) }));
    i = j;
  }
  return out;
}

/**
 * The server side of the shim contract's Logs stream, for every monitor: `open` reads the
 * monitor's log for the query (rejecting when it cannot be read: that is the call's error,
 * before any output), and this sends what it yields in the form the caller asked for (packed
 * entries, batches, or a message per entry: old callers keep working), only the streams asked
 * for, with backpressure: the next batch is read only once gRPC has taken the last, so memory
 * stays bounded whatever the log's size. Metadata goes out once the log is open, so the caller
 * knows that later errors are mid-stream ones.
 */
export async function serveLogEntries(call: ServerWritableStream<shimV1.LogsRequest, shimV1.LogEntry>, open: (q: LogsQuery) => Promise<LogBatches>): Promise<void> {
  const r = call.request;
  const ns = (sec: number, nanos: number) => BigInt(Math.trunc(sec)) * 1_000_000_000n + BigInt(nanos);
  const want = (stream: number) => (stream === shimV1.StreamKind.STREAM_KIND_STDERR ? r.stderr : r.stdout);
  let gone = false;
  let wake: (() => void) | undefined;
  const leave = () => {
    gone = true;
    wake?.();
  };
  call.on('cancelled', leave);
  call.on('close', leave);
  let it: LogBatches | undefined;
  const frames = r.frames ? { merge: r.framesMerged, raw: r.framesRaw, stdout: r.stdout, stderr: r.stderr } : undefined;
  try {
    it = await traced('logs: open', '', open({ follow: r.follow, sinceNano: ns(r.sinceUnixSec, r.sinceNanos), untilNano: ns(r.untilUnixSec, r.untilNanos), tail: r.tail, left: () => gone, frames }));
    call.sendMetadata(new Metadata());
    for await (const batch of it) {
      if (gone) break;
      let msgs: shimV1.LogEntry[];
      if (frames) {
        const bytes = Buffer.isBuffer(batch) ? batch : framesOfLines(batch, frames);
        msgs = bytes.length ? [message({ frames: bytes })] : [];
      } else if (Buffer.isBuffer(batch)) {
        if (r.packed) {
          const kept = filterPacked(batch, r.stdout, r.stderr);
          msgs = kept.length ? [message({ packed: kept })] : [];
        } else {
          const entries = entriesOfPacked(batch, want);
          msgs = r.batch ? batched(entries) : entries;
        }
      } else {
        const lines = batch.filter((l) => want(KIND[l.stream]));
        msgs = r.packed ? packedMessages(lines) : r.batch ? batched(lines.map(entryOf)) : lines.map(entryOf);
      }
      for (const m of msgs) {
        if (call.write(m)) continue;
        await new Promise<void>((res) => {
          wake = res;
          call.once('drain', res);
        });
        wake = undefined;
        if (gone) break;
      }
    }
    if (!gone) call.end();
  } catch (err) {
    if (!gone) endWithError(call, err);
  } finally {
    await it?.return(undefined).catch(() => undefined);
  }
}
