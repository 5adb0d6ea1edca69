import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceInfo } from '@berth/clients';
import { eventually, ROOT, run } from '../support/berth';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('one app is one shippable artifact', () => {
  it('nx build supervisor produces a bundle that runs with node from another folder', async () => {
    const build = await run('npx', ['--no-install', 'nx', 'build', 'supervisor', '--outputStyle=static'], {
      cwd: ROOT,
      env: { NX_DAEMON: 'false' },
      timeoutMs: 120_000,
    });
    expect(build.code, build.stdout + build.stderr).toBe(0);
    const elsewhere = mkdtempSync(join(tmpdir(), 'berth-artifact-'));
    dirs.push(elsewhere);
    cpSync(join(ROOT, 'dist/apps/supervisor'), join(elsewhere, 'supervisor'), { recursive: true });
    const roots = mkdtempSync('/tmp/bt-');
    dirs.push(roots);
    const proc = spawn(process.execPath, ['main.js', '--data-root', join(roots, 'd'), '--exec-root', join(roots, 'r')], {
      cwd: join(elsewhere, 'supervisor'),
      env: { PATH: process.env.PATH, NODE_PATH: '' },
      stdio: 'ignore',
    });
    try {
      const info = await eventually(
        () => serviceInfo('supervisor', `unix://${join(roots, 'r', 'supervisor.sock')}`, { deadlineMs: 1_000 }).catch(() => undefined),
        (i) => i !== undefined,
      );
      expect(info).toMatchObject({ name: 'supervisor', version: '0.1.0', contracts: ['berth.supervisor.v1'], pid: proc.pid });
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
