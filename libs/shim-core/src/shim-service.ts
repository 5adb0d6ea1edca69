import { Metadata, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { invalidArgument } from '@berth/errors';
import { type ContractImpl, endWithError, unaryHandler } from '@berth/grpc';
import { serveLogEntries } from '@berth/log-stream';
import { shimV1 } from '@berth/proto';
import type { ShimContainer as Container } from './shim-container';
import type { StreamName } from '@berth/json-log';

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
    prepare: unaryHandler(async () => ({ prepared: c.prepare ? await c.prepare() : false })),
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
            ready: () =>
              call.writableNeedDrain && !call.destroyed
                ? new Promise<void>((res) => {
                    for (const e of ['drain', 'close', 'error', 'cancelled']) call.once(e, () => res());
                  })
                : Promise.resolve(),
          });
          // Headers now tell the caller its client is registered: a start it sends after this cannot
          // overtake the attach (they travel different connections), so no output is missed.
          call.sendMetadata(new Metadata());
        }
        if (m.stdinData.length) {
          handle.stdin(Buffer.from(m.stdinData));
          // Backpressure to the client: no more messages are read until the holder has room.
          const room = handle.stdinFull?.();
          if (room) {
            call.pause();
            void room.then(() => call.resume());
          }
        }
        if (m.closeStdin) handle.closeStdin();
      });
      const leave = () => handle?.leave();
      call.on('cancelled', leave);
      call.on('error', leave);
      call.on('close', leave);
    },
    logs(call: ServerWritableStream<shimV1.LogsRequest, shimV1.LogEntry>) {
      void serveLogEntries(call, (q) => c.logs(q));
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
