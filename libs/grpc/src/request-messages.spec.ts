import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { requestMessages } from './request-messages';

describe('requestMessages', () => {
  // The bug: Node's own iterator destroyed a half-closed server call, so its answer was never sent.
  it('reads every message and leaves the stream usable after its end', async () => {
    // Like a server call: the stream is not destroyed by its own end, only by whoever owns it.
    const call = new PassThrough({ objectMode: true, autoDestroy: false });
    call.write({ n: 1 });
    call.write({ n: 2 });
    call.end();
    const got: number[] = [];
    for await (const m of requestMessages<{ n: number }>(call)) got.push(m.n);
    expect(got).toEqual([1, 2]);
    expect(call.destroyed).toBe(false);
  });

  it('pauses the stream while a message waits to be taken', async () => {
    const call = new PassThrough({ objectMode: true });
    const it = requestMessages<number>(call);
    call.write(1);
    call.write(2);
    await new Promise((r) => setImmediate(r));
    expect(call.isPaused()).toBe(true);
    expect((await it.next()).value).toBe(1);
    expect((await it.next()).value).toBe(2);
    call.end();
    expect((await it.next()).done).toBe(true);
  });

  it('ends with Cancelled when the client cancels', async () => {
    const call = new PassThrough({ objectMode: true });
    const it = requestMessages<number>(call);
    setImmediate(() => call.emit('cancelled'));
    await expect(it.next()).rejects.toThrow(/cancelled/);
  });
});
