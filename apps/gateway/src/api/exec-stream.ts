import type { Duplex } from 'node:stream';
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { isNotFound, messageOf } from '@berth/errors';
import { connect, fromServiceError } from '@berth/grpc';
import { shimV1 } from '@berth/proto';
import type { Backends } from '../domain/backends';
import { frame, STDERR, STDOUT } from '../domain/stdcopy';

export interface ExecIo {
  /** Where output goes (a hijacked socket or an HTTP response). */
  out: { write(b: Buffer): boolean; once(e: 'drain', f: () => void): unknown; end(): void };
  /** Incoming stdin (a hijacked socket), if any. */
  input?: Duplex;
  detach: boolean;
  /** The TTY the client asked for, which frames an error that happens before the exec is known. */
  tty: boolean;
  /** Headers for the client, sent once the process has started (or failed to). */
  onStarted(contentType: string): void;
  onError(err: unknown): void;
}

/**
 * Runs an exec on its container's shim and connects it to the client: multiplexed frames
 * without a TTY, raw bytes with one. Detached execs are started and left running.
 */
export async function runExec(b: Backends, execId: string, io: ExecIo): Promise<void> {
  let s: Awaited<ReturnType<Backends['startExec']>>;
  try {
    s = await b.startExec(execId);
  } catch (err) {
    return failStart(io, err, io.tty);
  }
  const client = connect(shimV1.ShimClient, s.shimAddress);
  const call: ClientDuplexStream<shimV1.ExecRequest, shimV1.ExecResponse> = client.exec();
  const empty = Buffer.alloc(0);
  call.write({
    execId,
    processJson: s.processJson,
    stdin: s.attachStdin && !io.detach,
    stdout: s.attachStdout && !io.detach,
    stderr: s.attachStderr && !io.detach,
    stdinData: empty,
    closeStdin: false,
  });
  const contentType = s.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  let started = false;
  // Like dockerd, the head goes out before the process runs: clients that read the stream
  // straight off the socket (docker-py) lose whatever their HTTP parser read along with it.
  let headSent = false;
  if (!io.detach) {
    io.onStarted(contentType);
    headSent = true;
  }
  // Output can arrive before the "started" message; it waits until the headers are out.
  const early: Buffer[] = [];
  const finish = () => {
    io.out.end();
    client.close();
  };
  call.on('data', (m: shimV1.ExecResponse) => {
    if (m.started) {
      started = true;
      if (!headSent) io.onStarted(contentType);
      for (const b of early.splice(0)) io.out.write(b);
      if (io.detach) {
        // The exec keeps running in the container; nobody needs its stream.
        call.cancel();
        finish();
      }
      return;
    }
    if (m.exited) return;
    const data = Buffer.from(m.data);
    const chunk = s.tty ? data : frame(m.stream === shimV1.StreamKind.STREAM_KIND_STDERR ? STDERR : STDOUT, data);
    if (!started) {
      early.push(chunk);
      return;
    }
    if (!io.out.write(chunk)) {
      call.pause();
      io.out.once('drain', () => call.resume());
    }
  });
  // Before "started", the end of the stream is an error that 'error' reports.
  call.on('end', () => started && finish());
  call.on('status', (st) => {
    if (!started && st.code === 0) failStart(io, new Error('exec ended before it started'), s.tty, headSent);
  });
  call.on('error', (err) => {
    if (started) return finish();
    client.close();
    failStart(io, fromServiceError(err as ServiceError, 'shim'), s.tty, headSent);
  });
  if (io.input && s.attachStdin && !io.detach) {
    io.input.on('data', (d: Buffer) => call.write({ execId: '', processJson: empty, stdin: false, stdout: false, stderr: false, stdinData: d, closeStdin: false }));
    io.input.on('end', () => call.write({ execId: '', processJson: empty, stdin: false, stdout: false, stderr: false, stdinData: empty, closeStdin: true }));
  }
  io.input?.on('close', () => call.cancel());
}

/**
 * Like Docker, a failure to start an attached exec still opens the stream and carries the error
 * as output (the CLI prints it and reads the exit code, 126 or 127, from the exec); an unknown
 * exec or a detached start gets a plain error response.
 */
function failStart(io: ExecIo, err: unknown, tty: boolean, headSent = false): void {
  if (!headSent && (io.detach || isNotFound(err))) return io.onError(err);
  if (!headSent) io.onStarted(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  const text = Buffer.from(`${messageOf(err)}\r\n`);
  io.out.write(tty ? text : frame(STDOUT, text));
  io.out.end();
}
