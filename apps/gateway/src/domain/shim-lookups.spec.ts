import { describe, expect, it, vi } from 'vitest';
import { ShimLookups } from './shim-lookups';

describe('ShimLookups', () => {
  it('hands a prefetched answer to the next call for that reference, once', async () => {
    const lookup = vi.fn(async (ref: string) => `${ref}@${lookup.mock.calls.length}`);
    const l = new ShimLookups(lookup);
    l.prefetch('web');
    const a = l.take('web');
    expect(a.prefetched).toBe(true);
    expect(await a.answer).toBe('web@1');
    const b = l.take('web');
    expect(b.prefetched).toBe(false);
    expect(await b.answer).toBe('web@2');
    expect(l.take('db').prefetched).toBe(false);
  });

  it('asks a prefetch not to start a monitor, and a call without one to', async () => {
    const lookup = vi.fn(async (ref: string, prefetching: boolean) => `${ref}:${prefetching}`);
    const l = new ShimLookups(lookup);
    l.prefetch('web');
    expect(await l.take('web').answer).toBe('web:true');
    expect(await l.take('web').answer).toBe('web:false');
    expect(await l.fresh('web').answer).toBe('web:false');
  });

  it('hands a prefetched answer to a call by the ID the inspect answered, once under either name', async () => {
    const lookup = vi.fn(async (ref: string) => ref);
    const l = new ShimLookups(lookup);
    l.prefetch('web');
    l.alias('web', 'c0ffee');
    const a = l.take('c0ffee');
    expect(a.prefetched).toBe(true);
    expect(await a.answer).toBe('web');
    expect(l.take('web').prefetched).toBe(false);
    // Nothing kept (dropped by a write meanwhile): nothing to alias.
    l.alias('db', 'beef');
    expect(l.take('beef').prefetched).toBe(false);
  });

  it('keeps no failed lookup under its alias either', async () => {
    const l = new ShimLookups(async () => {
      throw new Error('no monitor serves it now');
    });
    l.prefetch('web');
    l.alias('web', 'c0ffee');
    await Promise.resolve();
    await Promise.resolve();
    expect(l.size).toBe(0);
  });

  it('drops every answer at any request but GET and HEAD (a rename, remove or create may change what a name names)', () => {
    const l = new ShimLookups(async (ref: string) => ref);
    for (const [method, kept] of [['GET', true], ['HEAD', true], ['POST', false], ['DELETE', false], ['PUT', false]] as const) {
      l.prefetch('web');
      const next = vi.fn();
      l.clearOnWrites({ method }, undefined, next);
      expect(next).toHaveBeenCalledOnce();
      expect(l.take('web').prefetched).toBe(kept);
    }
  });

  it('keeps no failed lookup, and none past its time', async () => {
    vi.useFakeTimers();
    try {
      const l = new ShimLookups(async (ref: string) => {
        if (ref === 'gone') throw new Error('no such container');
        return ref;
      });
      l.prefetch('gone');
      await Promise.resolve();
      await Promise.resolve();
      expect(l.size).toBe(0);
      l.prefetch('web');
      vi.advanceTimersByTime(2_001);
      expect(l.take('web').prefetched).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
