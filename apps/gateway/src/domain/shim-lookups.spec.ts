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
