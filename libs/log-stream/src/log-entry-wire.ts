import { type ChannelCredentials, type ClientOptions, makeGenericClientConstructor } from '@grpc/grpc-js';
import { shimV1 } from '@berth/proto';

/**
 * The Logs stream's messages on the wire, without the generated code's copies for the one kind
 * that carries a log's bulk: a message holding only `frames` (the client's bytes, built by the
 * monitor). The generated encoder copies those bytes into its writer, out of it and again into a
 * Buffer, and the decoder copies them out of the received message; each copy of a big message
 * is a fresh mapping under the services' malloc settings, its pages faulted in (issue 13,
 * docs/decisions.md). Here the encoder copies once and the decoder returns a view into the
 * message grpc-js has just assembled (its own buffer, held by nothing else). Every other message
 * goes through the generated code, so both ends read any encoding the other may send.
 */

/** `frames` is field 8, length-delimited: (8 << 3) | 2. */
const FRAMES_TAG = 66;

const EMPTY = Buffer.alloc(0);

function onlyFrames(e: shimV1.LogEntry): boolean {
  return (
    e.frames.length > 0 &&
    e.stream === shimV1.StreamKind.STREAM_KIND_UNSPECIFIED &&
    e.line.length === 0 &&
    e.timeUnixNano === 0 &&
    e.timeUnixSec === 0 &&
    e.timeNanos === 0 &&
    e.batch.length === 0 &&
    e.packed.length === 0
  );
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

export function encodeLogEntry(e: shimV1.LogEntry): Buffer {
  if (!onlyFrames(e)) return Buffer.from(shimV1.LogEntry.encode(e).finish());
  const len = e.frames.length;
  const out = Buffer.allocUnsafe(1 + varintLength(len) + len);
  out[0] = FRAMES_TAG;
  let p = 1;
  for (let n = len; ; ) {
    if (n < 0x80) {
      out[p++] = n;
      break;
    }
    out[p++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out.set(e.frames, p);
  return out;
}

export function decodeLogEntry(b: Buffer): shimV1.LogEntry {
  if (b[0] === FRAMES_TAG) {
    let len = 0;
    let scale = 1;
    let p = 1;
    let ended = false;
    // Five bytes of varint cover any message grpc-js accepts.
    while (!ended && p < 6 && p < b.length) {
      const c = b[p++]!;
      len += (c & 0x7f) * scale;
      scale *= 128;
      ended = c < 0x80;
    }
    if (ended && len > 0 && p + len === b.length) {
      return { stream: shimV1.StreamKind.STREAM_KIND_UNSPECIFIED, line: EMPTY, timeUnixNano: 0, timeUnixSec: 0, timeNanos: 0, batch: [], packed: EMPTY, frames: b.subarray(p) };
    }
  }
  return shimV1.LogEntry.decode(b);
}

/** The shim contract with the Logs stream's messages through the functions above: served by every monitor, called by the gateway. */
export const shimServiceWire: typeof shimV1.ShimService = {
  ...shimV1.ShimService,
  logs: { ...shimV1.ShimService.logs, responseSerialize: encodeLogEntry, responseDeserialize: decodeLogEntry },
};

export const ShimWireClient = makeGenericClientConstructor(shimServiceWire, 'berth.shim.v1.Shim') as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): shimV1.ShimClient;
  service: typeof shimV1.ShimService;
  serviceName: string;
};
