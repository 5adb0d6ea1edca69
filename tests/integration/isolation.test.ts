import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, freeAddressPool, LAUNCHER, run, Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

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

describe('a default bridge that is already there', () => {
  // Each start of a fresh data root on an existing bridge used to add one more subnet to it,
  // until no pool was left: an existing bridge keeps its address, as docker0 does with dockerd.
  it('is adopted with its address by every new data root, never given a second one', async () => {
    const bridge = `bt${randomBytes(4).toString('hex')}`;
    const pool = freeAddressPool();
    const gateway = pool.replace(/\.0\/22$/, '.1');
    const addresses = () => execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]).toString().trim().split('\n').filter(Boolean);
    execFileSync('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    try {
      execFileSync('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
      for (let round = 0; round < 2; round++) {
        const s = await Suite.start([], 60_000, { bridge });
        try {
          const subnet = (await s.docker(['network', 'inspect', 'bridge', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}'])).stdout.trim();
          expect(subnet).toBe(`${pool.replace(/\/22$/, '')}/24 ${gateway}`);
          expect((await s.docker(['load', '-i', (await fixtures()).busybox])).code).toBe(0);
          const r = await s.docker(['run', '--rm', 'busybox', 'true']);
          expect(r.stderr).toBe('');
          expect(r.code).toBe(0);
          expect(addresses()).toHaveLength(1);
        } finally {
          // Leave the bridge in place for the next round, as a stopped instance does.
          const exited = s.proc.exitCode === null ? new Promise((res) => s.proc.once('exit', res)) : Promise.resolve();
          s.proc.kill('SIGTERM');
          await exited;
          execFileSync('rm', ['-rf', s.base]);
        }
      }
      expect(addresses()).toHaveLength(1);
    } finally {
      execFileSync('ip', ['link', 'del', bridge]);
      try {
        execFileSync('nft', ['delete', 'table', 'ip', `berth_${bridge}`], { stdio: 'ignore' });
      } catch {
        // never made
      }
    }
  });

  it('is one of its own for an instance whose data root is not the default', async () => {
    const { defaultBridgeFor } = await import('@berth/config');
    expect(defaultBridgeFor('/var/lib/berth')).toBe('berth0');
    const own = defaultBridgeFor(a.dataRoot);
    expect(own).toMatch(/^berth-[0-9a-f]{8}$/);
    expect(own).not.toBe(defaultBridgeFor(b.dataRoot));
  });
});
