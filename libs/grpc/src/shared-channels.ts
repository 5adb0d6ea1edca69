import { Channel as ChannelImplementation, type ChannelInterface as Channel, type Client, connectivityState, credentials } from '@grpc/grpc-js';
import { type ClientCtor, CLIENT_OPTIONS } from './client';

/** A channel lent to one client: its `close()` gives it back instead of closing it. */
class LentChannel implements Channel {
  constructor(private readonly ch: Channel) {}
  close(): void {
    // The channel stays open for the next request; SharedChannels closes it.
  }
  getTarget(): string {
    return this.ch.getTarget();
  }
  getConnectivityState(tryToConnect: boolean): connectivityState {
    return this.ch.getConnectivityState(tryToConnect);
  }
  watchConnectivityState(currentState: connectivityState, deadline: Date | number, callback: (error?: Error) => void): void {
    this.ch.watchConnectivityState(currentState, deadline, callback);
  }
  getChannelzRef(): ReturnType<Channel['getChannelzRef']> {
    return this.ch.getChannelzRef();
  }
  createCall(...args: Parameters<Channel['createCall']>): ReturnType<Channel['createCall']> {
    return this.ch.createCall(...args);
  }
}

/** A shared channel whose connection has gone idle closes it after this (grpc-js keeps no idle timer while a call runs). */
const IDLE_MS = 60_000;

/**
 * Channels kept per address for a caller that opens a stream to one of many peers per request
 * (the gateway to container monitors): a fresh channel costs a connect and an HTTP/2 handshake
 * each time, a good part of a short `docker logs --tail`. Clients from `client()` may be closed
 * as any other; the channel under them stays. A channel that failed (its peer gone or
 * restarting) is replaced at the next lookup rather than left in its reconnect backoff. Only a
 * channel with no connection is ever closed (idle, failed), so no running stream is cut: a
 * connection closes itself once no call has used it for IDLE_MS, and its entry goes at a later
 * lookup.
 */
export class SharedChannels {
  private readonly channels = new Map<string, { ch: Channel; used: number }>();

  client<C extends Client>(Ctor: ClientCtor<C>, address: string): C {
    return new Ctor(address, credentials.createInsecure(), { ...CLIENT_OPTIONS, channelOverride: new LentChannel(this.channel(address)) });
  }

  private channel(address: string): Channel {
    const now = Date.now();
    for (const [a, e] of this.channels) {
      if (a !== address && now - e.used > IDLE_MS && !connected(e.ch)) this.drop(a);
    }
    const e = this.channels.get(address);
    if (e) {
      const s = e.ch.getConnectivityState(false);
      if (s !== connectivityState.TRANSIENT_FAILURE && s !== connectivityState.SHUTDOWN) {
        e.used = now;
        return e.ch;
      }
      this.drop(address);
    }
    const ch = new ChannelImplementation(address, credentials.createInsecure(), { ...CLIENT_OPTIONS, 'grpc.client_idle_timeout_ms': IDLE_MS });
    this.channels.set(address, { ch, used: now });
    return ch;
  }

  private drop(address: string): void {
    this.channels.get(address)?.ch.close();
    this.channels.delete(address);
  }

  get size(): number {
    return this.channels.size;
  }

  close(): void {
    for (const a of [...this.channels.keys()]) this.drop(a);
  }
}

function connected(ch: Channel): boolean {
  const s = ch.getConnectivityState(false);
  return s === connectivityState.READY || s === connectivityState.CONNECTING;
}
