import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAUNCHER, ROOT, run } from '../support/berth';

const base = mkdtempSync('/tmp/bt-');
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('bad configuration is refused at start with a clear message', () => {
  it('names unknown daemon.json keys', async () => {
    const cfg = join(base, 'daemon.json');
    writeFileSync(cfg, JSON.stringify({ 'data-root': join(base, 'd'), 'exec-root': join(base, 'r'), 'storage-drvier': 'overlay2' }));
    const r = await run(process.execPath, [LAUNCHER, '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the following directives don't match any configuration option: storage-drvier");
  });

  it('refuses a key given as a flag and in the file', async () => {
    const cfg = join(base, 'both.json');
    writeFileSync(cfg, JSON.stringify({ 'data-root': join(base, 'd') }));
    const r = await run(process.execPath, [LAUNCHER, '--config', cfg, '--data-root', join(base, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('specified both as a flag and in the configuration file: data-root');
  });

  it('a service refuses an unsupported storage driver and exits non-zero', async () => {
    const r = await run(process.execPath, [join(ROOT, 'dist/apps/snapshotter/main.js'), '--data-root', join(base, 'd'), '--exec-root', join(base, 'r'), '--storage-driver', 'zfs']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('storage driver \\"zfs\\" is not supported');
  });
});
