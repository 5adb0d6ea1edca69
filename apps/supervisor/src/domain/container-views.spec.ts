import { describe, expect, it } from 'vitest';
import { holdView, viewsSettled } from './container-views';

const ID = 'a'.repeat(64);
const settledNow = async (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20))]);

describe('container views (a start waits for a docker cp)', () => {
  it('settles at once with no view held', async () => {
    expect(await settledNow(viewsSettled(ID))).toBe(true);
  });

  it('settles once every view held at the call has ended, whatever their order', async () => {
    const a = holdView(ID);
    const b = holdView(ID);
    const settled = viewsSettled(ID);
    b();
    expect(await settledNow(settled)).toBe(false);
    a();
    expect(await settledNow(settled)).toBe(true);
    expect(await settledNow(viewsSettled(ID))).toBe(true);
  });

  it('does not wait for a view held after the call (that view waits for the start instead)', async () => {
    const settled = viewsSettled(ID);
    const later = holdView(ID);
    expect(await settledNow(settled)).toBe(true);
    later();
  });
});
