import { describe, expect, it } from 'vitest';
import { IdleWatch } from './idle-watch';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the builder idle watch', () => {
  it('fires once nothing has run for the period, never while work is in progress', async () => {
    let fired = 0;
    const w = new IdleWatch(200, () => fired++);
    const end = w.begin();
    await sleep(600);
    expect(fired).toBe(0);
    end();
    end(); // a second end does not count twice
    for (let i = 0; i < 100 && fired === 0; i++) await sleep(50);
    expect(fired).toBe(1);
    await sleep(300);
    expect(fired).toBe(1);
    w.stop();
  });
});
