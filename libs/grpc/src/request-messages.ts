import type { Readable } from 'node:stream';
import { cancelled } from '@berth/errors';

/**
 * The messages of a client-streaming or bidi call, one per `next()`, pulled on demand: the call
 * is paused while a message waits to be taken, so a fast sender cannot fill memory.
 *
 * Why not the call's own async iterator: Node's Readable iterator destroys the stream when it
 * ends, and a destroyed server call can no longer send its answer or status, so a client that
 * half-closes first (every upload does) would never hear back. This one never touches the call
 * beyond pause/resume; `return()` only stops listening.
 *
 * A call the client cancels ends the iteration with a Cancelled error.
 */
export function requestMessages<T>(call: Readable): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (m: T) => {
    queue.push(m);
    call.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: unknown) => {
    failure ??= err;
    notify();
  };
  const onCancelled = () => onError(cancelled('the client cancelled the call'));
  const detach = () => {
    call.off('data', onData);
    call.off('end', onEnd);
    call.off('error', onError);
    call.off('cancelled', onCancelled);
  };
  call.on('data', onData);
  call.on('end', onEnd);
  call.on('error', onError);
  call.on('cancelled', onCancelled);
  const it: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => it,
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (queue.length > 0) return { done: false, value: queue.shift()! };
        if (failure !== undefined) throw failure;
        if (ended) return { done: true, value: undefined };
        const woken = new Promise<void>((resolve) => (wake = resolve));
        call.resume();
        await woken;
      }
    },
    async return(): Promise<IteratorResult<T>> {
      ended = true;
      queue.length = 0;
      detach();
      notify();
      return { done: true, value: undefined };
    },
  };
  return it;
}
