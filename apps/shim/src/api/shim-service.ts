import { Metadata, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { invalidArgument } from '@berth/errors';
import { type ContractImpl, endWithError, unaryHandler } from '@berth/grpc';
import { shimV1 } from '@berth/proto';
import type { Container } from '../domain/container';
import type { LogLine, StreamName } from '@berth/json-log';

const KIND: Record<StreamName, shimV1.StreamKind> = { stdout: shimV1.StreamKind.STREAM_KIND_STDOUT, stderr: shimV1.StreamKind.STREAM_KIND_STDERR };

function streams(stdout: boolean, stderr: boolean): Set<StreamName> {
  const s = new Set<StreamName>();
  if (stdout) s.add('stdout');
  if (stderr) s.add('stderr');
  return s;
}

export function shimService(c: Container, exit: () => void): ContractImpl<shimV1.ShimServer> {
  const execHandles = new Map<string, { resize: (r: number, w: number) => void }>();
  return {
    state: unaryHandler(() => ({ id: c.o.id, bundle: c.bundle, ...c.state() })),
    start: unaryHandler(async () => ({ pid: await c.start() })),
    kill: unaryHandler(async (r: shimV1.KillRequest) => {
      await c.kill(r.signal, r.all);
      return {};
    }),
    wait: unaryHandler(() => c.wait()),
    pause: unaryHandler(async () => {
      await c.pause(true);
      return {};
    }),
    resume: unaryHandler(async () => {
      await c.pause(false);
      return {};
    }),
    pids: unaryHandler(async () => ({ pids: await c.pids() })),
    resize: unaryHandler((r: shimV1.ResizeRequest) => {
      c.resize(r.height, r.width);
      return {};
    }),
    shutdown: unaryHandler(async () => {
      await c.shutdown();
      setImmediate(exit);
      return {};
    }),
    attach(call: ServerDuplexStream<shimV1.AttachRequest, shimV1.AttachResponse>) {
      let handle: ReturnType<Container['attach']> | undefined;
      call.on('data', (m: shimV1.AttachRequest) => {
        if (!handle) {
          handle = c.attach(streams(m.stdout, m.stderr), {
            data: (s, b) => call.write({ stream: KIND[s], data: b }),
            end: () => call.end(),
          });
        }
        if (m.stdinData.length) handle.stdin(Buffer.from(m.stdinData));
        if (m.closeStdin) handle.closeStdin();
      });
      const leave = () => handle?.leave();
      call.on('cancelled', leave);
      call.on('error', leave);
      call.on('close', leave);
    },
    logs(call: ServerWritableStream<shimV1.LogsRequest, shimV1.LogEntry>) {
      void streamLogs(c, call);
    },
    exec(call: ServerDuplexStream<shimV1.ExecRequest, shimV1.ExecResponse>) {
      let handle: Awaited<ReturnType<Container['exec']>> | undefined;
      let first = true;
      const pendingStdin: shimV1.ExecRequest[] = [];
      call.on('data', (m: shimV1.ExecRequest) => {
        if (!first) {
          if (handle) {
            if (m.stdinData.length) handle.stdin(Buffer.from(m.stdinData));
            if (m.closeStdin) handle.closeStdin();
          } else pendingStdin.push(m);
          return;
        }
        first = false;
        if (!m.execId) return endWithError(call, invalidArgument('Exec: the first message must name the exec'));
        const want = streams(m.stdout, m.stderr);
        c.exec(
          m.execId,
          Buffer.from(m.processJson),
          (s, b) => {
            if (want.has(s)) call.write({ stream: KIND[s], data: b, started: false, pid: 0, exited: false, exitCode: 0 });
          },
        ).then(
          (h) => {
            handle = h;
            execHandles.set(m.execId, h);
            call.write({ stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, data: Buffer.alloc(0), started: true, pid: h.pid, exited: false, exitCode: 0 });
            for (const p of pendingStdin.splice(0)) {
              if (p.stdinData.length) h.stdin(Buffer.from(p.stdinData));
              if (p.closeStdin) h.closeStdin();
            }
            // A process can exit before its start is announced; "started" always goes first.
            void h.exited.then((code) => {
              execHandles.delete(m.execId);
              call.write({ stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, data: Buffer.alloc(0), started: false, pid: 0, exited: true, exitCode: code });
              call.end();
            });
          },
          (err: unknown) => endWithError(call, err),
        );
      });
    },
    execState: unaryHandler((r: shimV1.ExecStateRequest) => {
      try {
        return { found: true, ...c.execState(r.execId) };
      } catch {
        return { found: false, running: false, exitCode: 0, pid: 0 };
      }
    }),
    resizeExec: unaryHandler((r: shimV1.ResizeExecRequest) => {
      execHandles.get(r.execId)?.resize(r.height, r.width);
      return {};
    }),
  };
}

/**
 * The log from disk, with backpressure: the next batch is read only once gRPC has taken the
 * last one, so memory stays bounded whatever the log's size. Metadata goes out once the log is
 * open, so the caller knows that later errors are mid-stream ones.
 */
async function streamLogs(c: Container, call: ServerWritableStream<shimV1.LogsRequest, shimV1.LogEntry>): Promise<void> {
  const r = call.request;
  const ns = (sec: number, nanos: number) => BigInt(Math.trunc(sec)) * 1_000_000_000n + BigInt(nanos);
  const want = streams(r.stdout, r.stderr);
  let gone = false;
  let wake: (() => void) | undefined;
  const leave = () => {
    gone = true;
    wake?.();
  };
  call.on('cancelled', leave);
  call.on('close', leave);
  let it: AsyncGenerator<LogLine[]> | undefined;
  try {
    it = await c.logs({ follow: r.follow, sinceNano: ns(r.sinceUnixSec, r.sinceNanos), untilNano: ns(r.untilUnixSec, r.untilNanos), tail: r.tail, left: () => gone });
    call.sendMetadata(new Metadata());
    // A follower waiting for new lines notices a client that left at its next wake-up.
    for await (const batch of it) {
      if (gone) break;
      const entries = batch.filter((l) => want.has(l.stream)).map(toEntry);
      // Batches stay near 256 KiB: big enough to be cheap, small enough for gRPC's flow control.
      const msgs = r.batch ? chunk(entries) : entries;
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

function toEntry(l: LogLine): shimV1.LogEntry {
  return { stream: KIND[l.stream], line: l.line, timeUnixNano: 0, timeUnixSec: Number(l.timeNano / 1_000_000_000n), timeNanos: Number(l.timeNano % 1_000_000_000n), batch: [] };
}

const BATCH_BYTES = 256 * 1024;

function chunk(entries: shimV1.LogEntry[]): shimV1.LogEntry[] {
  const out: shimV1.LogEntry[] = [];
  let cur: shimV1.LogEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    cur.push(e);
    bytes += e.line.length + 16;
    if (bytes >= BATCH_BYTES) {
      out.push({ stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, line: Buffer.alloc(0), timeUnixNano: 0, timeUnixSec: 0, timeNanos: 0, batch: cur });
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length) out.push({ stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, line: Buffer.alloc(0), timeUnixNano: 0, timeUnixSec: 0, timeNanos: 0, batch: cur });
  return out;
}
