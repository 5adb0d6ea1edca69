import type { Duplex } from 'node:stream';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { log, traced } from '@berth/logging';
import { messageOf } from '@berth/errors';
import { shimV1 } from '@berth/proto';
import { compareVersions } from '../domain/api-version';
import type { Backends } from '../domain/backends';
import { frame, STDERR, STDOUT } from '../domain/stdcopy';
import { attachStarted } from '../domain/live-attaches';

/** How long the head waits for a monitor to confirm an attach, for builds that never do. */
const REGISTER_GRACE_MS = 2_000;

const bool = (v: string | null) => v === '1' || v === 'true' || v === 'True';

export interface AttachIo {
  /** The client's connection, upgraded or not: output goes here, stdin (if asked) comes from it. */
  socket: Duplex;
  /** Bytes that came after the request head (already stdin). */
  head: Buffer;
  /** Whether the client may send stdin on the connection (only an upgraded one may). */
  acceptStdin: boolean;
  /** Writes the response head; the stream follows on the same socket. */
  writeHead(contentType: string): void;
}

/**
 * `POST /containers/{id}/attach`, the one implementation behind both forms: with `Upgrade: tcp`
 * (101) and without (200 and the stream as the body, which docker-py and dockerode use).
 * `logs=1` replays what the container has logged first; `stream=1` then follows it live.
 */
export async function runAttach(b: Backends, ref: string, q: URLSearchParams, apiVersion: string, io: AttachIo): Promise<void> {
  // Both answers come from the supervisor; asked together they cost one round trip. The race this
  // once opened (a start before the live call is registered) is closed by the monitor's headers below.
  const [shim, got] = await traced('attach: supervisor lookups', '', Promise.allSettled([b.shim(ref), b.getContainer(ref)]));
  if (shim.status === 'rejected') throw shim.reason;
  const { client, tty, openStdin } = shim.value;
  if (got.status === 'rejected') {
    client.close();
    throw got.reason;
  }
  const container = got.value;
  const { socket } = io;
  const wantStdin = io.acceptStdin && bool(q.get('stdin')) && openStdin;
  const stdout = bool(q.get('stdout'));
  const stderr = bool(q.get('stderr'));
  const multiplexed = !tty;
  const contentType = multiplexed && compareVersions(apiVersion, '1.42') >= 0 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
  const encode = (kind: shimV1.StreamKind, data: Buffer) => (multiplexed ? frame(kind === shimV1.StreamKind.STREAM_KIND_STDERR ? STDERR : STDOUT, data) : data);
  const send = (chunk: Buffer, pause: () => void, resume: () => void) => {
    if (!socket.write(chunk)) {
      pause();
      socket.once('drain', resume);
    }
  };
  let ended: () => void = () => undefined;
  const finish = () => {
    socket.end();
    client.close();
    ended();
  };
  // stream=1 follows the container's next run too: `docker start -a` attaches to a stopped
  // container before it starts it. Only a dead or departing one gets just its log.
  const state = container.status;
  const live = bool(q.get('stream')) && !['dead', 'removing'].includes(state);
  if (live) ended = attachStarted(container.id);
  // The live call is registered before the head goes out: clients start the container once
  // they have the head, and the first output must already have somewhere to go.
  // Until the log replay is done its output waits in the call's (paused) stream.
  let call: ClientDuplexStream<shimV1.AttachRequest, shimV1.AttachResponse> | undefined;
  if (live) {
    call = client.attach();
    call.write({ stdin: wantStdin, stdout, stderr, stdinData: Buffer.alloc(0), closeStdin: false });
    // The monitor's headers say the client is registered; the head (after which clients start the
    // container) waits for them. A monitor build from before sends none: it gets a short grace.
    const pending = call;
    await traced('attach: monitor registered', container.id, new Promise<void>((resolve) => {
      const t = setTimeout(resolve, REGISTER_GRACE_MS);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      pending.once('metadata', done);
      // Kept on: an error during the log replay below must not go unheard (that would throw).
      pending.on('error', done);
      pending.once('end', done);
    }));
  }
  io.writeHead(contentType);
  if (bool(q.get('logs')) && (stdout || stderr)) {
    await new Promise<void>((resolve) => {
      const logs = client.logs({ follow: false, stdout, stderr, sinceUnixNano: 0, untilUnixNano: 0, sinceUnixSec: 0, sinceNanos: 0, untilUnixSec: 0, untilNanos: 0, tail: -1, batch: false, packed: false, frames: false, framesMerged: false, framesRaw: false });
      socket.once('close', () => logs.cancel());
      logs.on('data', (e: shimV1.LogEntry) => send(encode(e.stream, Buffer.from(e.line)), () => logs.pause(), () => logs.resume()));
      logs.on('end', resolve);
      logs.on('error', (err) => {
        log().debug({ err: messageOf(err) }, 'attach log replay ended');
        resolve();
      });
    });
  }
  if (!call) return finish();
  const c = call;
  c.on('data', (m: shimV1.AttachResponse) => send(encode(m.stream, Buffer.from(m.data)), () => c.pause(), () => c.resume()));
  c.on('end', finish);
  c.on('error', (err) => {
    log().debug({ err: messageOf(err) }, 'attach stream ended');
    finish();
  });
  const sendStdin = (d: Buffer) => {
    if (!wantStdin) return;
    // The container's side may be slower than the client: the client waits rather than this process buffering.
    if (!c.write({ stdin: false, stdout: false, stderr: false, stdinData: d, closeStdin: false })) {
      socket.pause();
      c.once('drain', () => socket.resume());
    }
  };
  if (io.head.length) sendStdin(io.head);
  if (wantStdin) {
    socket.on('data', sendStdin);
    socket.on('end', () => c.write({ stdin: false, stdout: false, stderr: false, stdinData: Buffer.alloc(0), closeStdin: true }));
  }
  socket.on('error', () => c.cancel());
  socket.on('close', () => c.cancel());
}
