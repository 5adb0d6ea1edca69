import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, LAUNCHER, run, Suite } from '../support/berth';

let a: Suite;
let b: Suite;
beforeAll(async () => {
  [a, b] = await Promise.all([Suite.start(), Suite.start()]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('two instances with their own roots', () => {
  it('do not share identity, state or sockets', async () => {
    const idA = (await a.docker(['info', '--format', '{{.ID}} {{.DockerRootDir}}'])).stdout.trim();
    const idB = (await b.docker(['info', '--format', '{{.ID}} {{.DockerRootDir}}'])).stdout.trim();
    expect(idA.split(' ')[1]).toBe(a.dataRoot);
    expect(idB.split(' ')[1]).toBe(b.dataRoot);
    expect(idA.split(' ')[0]).not.toBe(idB.split(' ')[0]);
    expect(existsSync(join(a.dataRoot, 'supervisor'))).toBe(true);
    expect(existsSync(join(a.execRoot, 'redis.sock'))).toBe(true);
    expect(a.state().children.redis!.pid).not.toBe(b.state().children.redis!.pid);
  });

  it('refuse a second launcher on the same exec root', async () => {
    const r = await run(process.execPath, [LAUNCHER, '--data-root', join(a.base, 'other'), '--exec-root', a.execRoot], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already running');
    expect((await a.docker(['version'])).code).toBe(0);
  });

  it('stopping one leaves the other serving', async () => {
    const pidsA = Object.values(a.state().children).map((c) => c.pid);
    await a.stop();
    for (const p of pidsA) expect(alive(p)).toBe(false);
    expect((await b.docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim()).toBe('0.1.0');
    expect((await b.admin(['status'])).code).toBe(0);
  });
});
