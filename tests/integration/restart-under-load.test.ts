import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';

// Restarting netproxy under loops of `docker run --rm` used to hang runs: the start failed with
// a 503, the container stayed in Created, and the CLI waited for a removal that never came.
describe('docker commands while a service restarts', () => {
  let suite: Suite;
  beforeAll(async () => {
    suite = await Suite.startWithBusybox();
  });
  afterAll(async () => {
    await suite?.removeAllContainers();
    await suite?.stop();
  });

  it('each `run --rm` succeeds or fails clearly within its deadline, and leaves nothing behind', async () => {
    const DEADLINE_MS = 90_000;
    let restarting = true;
    const results: { code: number; stderr: string; ms: number }[] = [];
    const loop = async () => {
      while (restarting) {
        const t = Date.now();
        const r = await suite.docker(['run', '--rm', 'busybox', 'true'], { timeoutMs: DEADLINE_MS });
        results.push({ code: r.code, stderr: r.stderr, ms: Date.now() - t });
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    for (const svc of ['netproxy', 'netproxy', 'images', 'netproxy']) {
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await suite.admin(['restart', svc])).code).toBe(0);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    restarting = false;
    await Promise.all(loops);
    const hung = results.filter((r) => r.ms >= DEADLINE_MS);
    const unclear = results.filter((r) => r.code !== 0 && r.stderr.trim() === '');
    for (const r of results.filter((x) => x.code !== 0).slice(0, 3)) console.log(`failed: ${r.stderr.trim()}`);
    console.log(`run --rm during restarts: ${results.length} runs, ${results.filter((r) => r.code === 0).length} ok, ${results.filter((r) => r.code !== 0).length} failed clearly, ${hung.length} hung`);
    expect(hung).toEqual([]);
    expect(unclear).toEqual([]);
    expect(results.length).toBeGreaterThan(4);
    // Every --rm container went, the failed starts included.
    const left = await suite.docker(['ps', '-aq']);
    expect(left.stdout.trim()).toBe('');
  });
});
