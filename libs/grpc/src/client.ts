import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientUnaryCall,
  connectivityState,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { fromServiceError } from './status-mapping';
import { MAX_MESSAGE_BYTES } from './server';

export const DEFAULT_DEADLINE_MS = 10_000;
export const FLOW_WINDOW_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RETRY_BASE_MS = 50;
export const DEFAULT_RETRY_MAX_MS = 1_000;

export type ClientCtor<C> = new (address: string, creds: ChannelCredentials, options?: object) => C;

/** The channel options of every client (also SharedChannels'). */
export const CLIENT_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // A restarting peer should be found again quickly, not after grpc's default 20 s backoff.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  // HTTP/2's default window (64 KiB) makes a stream's sender wait for the receiver's
  // WINDOW_UPDATE every 64 KiB, a round trip between two processes that a loaded machine
  // schedules late (a log read of 1 MiB messages stalled ~16 times per MiB). Still a bound:
  // a receiver that stops reading holds at most this much per stream.
  'grpc-node.flow_control_window': FLOW_WINDOW_BYTES,
};

/** A client for `peer` (a service name, used in error messages) at a `unix://` address. */
export function connect<C extends Client>(Ctor: ClientCtor<C>, address: string): C {
  return new Ctor(address, credentials.createInsecure(), CLIENT_OPTIONS);
}

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface CallOpts {
  /** Total time for the call including retries. */
  deadlineMs?: number;
  /**
   * Whether the call may be sent again when the peer is unavailable (restarting). Only safe
   * for reads and idempotent writes; defaults to true.
   */
  idempotent?: boolean;
  /**
   * Whether the call waits, up to its deadline, for a peer that is not accepting connections
   * (restarting) rather than failing at once. The request is sent only once connected, so it is
   * safe for writes too; defaults to `idempotent`. Leave it off where a peer that is gone must
   * be noticed at once (a container's monitor).
   */
  waitForReady?: boolean;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Calls a unary method with a deadline. While the peer restarts (UNAVAILABLE) an idempotent
 * call is retried with exponential backoff until its deadline; errors come back in the
 * suite's taxonomy with the peer's message.
 */
export async function unary<Req, Res>(peer: string, method: UnaryMethod<Req, Res>, request: Req, opts: CallOpts = {}): Promise<Res> {
  const deadlineAt = Date.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const idempotent = opts.idempotent ?? true;
  let backoff = DEFAULT_RETRY_BASE_MS;
  for (;;) {
    try {
      return await new Promise<Res>((resolve, reject) => {
        // waitForReady (a metadata option in grpc-js, not a call option) holds a call until the
        // channel connects and never sends it twice.
        const call = method(request, new Metadata({ waitForReady: opts.waitForReady ?? idempotent }), { deadline: deadlineAt } as Partial<CallOptions>, (err, res) =>
          err ? reject(err) : resolve(res),
        );
        opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
      });
    } catch (err) {
      const se = err as ServiceError;
      const retry = idempotent && se.code === status.UNAVAILABLE && Date.now() + backoff < deadlineAt && !opts.signal?.aborted;
      if (!retry) throw fromServiceError(se, peer);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, DEFAULT_RETRY_MAX_MS);
    }
  }
}

/**
 * Resolves once `client`'s channel is connected, starting the connection (and so a service that
 * starts on demand); rejects as `unavailable` at the deadline. For streams, which cannot carry
 * a deadline of their own without cutting a long one short.
 */
export function channelReady(peer: string, client: Client, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    client.waitForReady(Date.now() + deadlineMs, (err) =>
      err ? reject(fromServiceError({ code: status.UNAVAILABLE, details: `not ready within ${deadlineMs} ms`, message: err.message } as ServiceError, peer)) : resolve(),
    ),
  );
}

/** Whether `client`'s channel is connected now, without starting a connection. */
export function channelConnected(client: Client): boolean {
  return client.getChannel().getConnectivityState(false) === connectivityState.READY;
}
