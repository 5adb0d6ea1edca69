import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

let suite: Suite;
const dir = mkdtempSync('/tmp/bt-builder-idle-');
beforeAll(async () => {
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ services: { builder: { 'idle-exit-seconds': 3 } } }));
  suite = await Suite.start(['--config', join(dir, 'daemon.json')]);
}, 120_000);
afterAll(async () => {
  await suite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a builder started on demand leaves when idle', () => {
  it('exits after its idle period, shows idle again, and the next build starts it anew', async () => {
    const build = async (tag: string) => {
      const c = mkdtempSync(join(dir, 'ctx-'));
      writeFileSync(join(c, 'Dockerfile'), `FROM scratch\nCOPY hello.txt /hello.txt\nLABEL tag=${tag}\n`);
      writeFileSync(join(c, 'hello.txt'), 'hello\n');
      const r = await suite.docker(['build', '-t', `idle:${tag}`, c], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 300_000 });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`Successfully tagged idle:${tag}`);
    };
    expect(suite.state().children.builder).toMatchObject({ status: 'idle', pid: 0 });
    await build('1');
    const first = suite.state().children.builder!;
    expect(first.status).toBe('running');
    // Status and version ask it while it runs; they are not work and do not keep it up.
    expect((await suite.admin(['status'])).code).toBe(0);
    const idle = await eventually(async () => suite.state().children.builder!, (c) => c.status === 'idle', 60_000);
    expect(idle).toMatchObject({ pid: 0, restarts: first.restarts });
    await eventually(async () => alive(first.pid), (a) => !a, 10_000);
    expect((await suite.admin(['status'])).stdout).toMatch(/^builder\s+-\s+-\s+-\s+idle, starts on first use/m);
    await build('2');
    const again = suite.state().children.builder!;
    expect(again.status).toBe('running');
    expect(again.pid).not.toBe(first.pid);
    expect((await suite.docker(['image', 'inspect', '-f', '{{.Config.Labels.tag}}', 'idle:1'])).stdout.trim()).toBe('1');
  });
});
