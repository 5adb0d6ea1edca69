import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { publishMonitor } from './publish-monitor.mjs';

type Published = { dir: string; name: string; previous?: string; pruned: string[] };
const publish = publishMonitor as (built: string, store?: string) => Published;

const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function build(root: string, version: string, body: string): string {
  const built = join(root, 'apps', 'shim');
  mkdirSync(join(built, 'node_modules', 'koffi'), { recursive: true });
  writeFileSync(join(built, 'main.js'), body);
  writeFileSync(join(built, 'node_modules', 'koffi', 'index.js'), 'native');
  writeFileSync(join(built, 'package.json'), JSON.stringify({ name: '@berth/shim', version }));
  return built;
}

describe('monitor builds kept beside each other', () => {
  it('each build gets its own folder and current; a rebuild never touches one a process runs from', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pubmon-'));
    dirs.push(root);
    const store = join(root, 'monitors', 'shim');
    const a = publish(build(root, '0.1.0', 'a'));
    expect(a.dir).toBe(join(store, a.name));
    expect(a.name).toMatch(/^0\.1\.0-[0-9a-f]{12}$/);
    expect(readlinkSync(join(store, 'current'))).toBe(a.name);
    // The same content again is the same folder.
    expect(publish(build(root, '0.1.0', 'a')).name).toBe(a.name);

    // A process runs from build a (its command line names a file in a's folder).
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', join(a.dir, 'main.js')], { stdio: 'ignore' });
    procs.push(running);
    await new Promise((r) => running.once('spawn', r));

    const b = publish(build(root, '0.1.0', 'b'));
    expect(b.name).not.toBe(a.name);
    expect(readlinkSync(join(store, 'current'))).toBe(b.name);
    const c = publish(build(root, '0.2.0', 'c'));
    const d = publish(build(root, '0.2.0', 'd'));
    // a is in use, c is the one before current: both stay; b is neither and goes.
    expect(d.pruned).toEqual([b.name]);
    expect(readFileSync(join(a.dir, 'main.js'), 'utf8')).toBe('a');
    expect(readFileSync(join(a.dir, 'node_modules', 'koffi', 'index.js'), 'utf8')).toBe('native');
    expect(existsSync(c.dir)).toBe(true);
    expect(readlinkSync(join(store, 'current'))).toBe(d.name);

    running.kill('SIGKILL');
    await new Promise((r) => running.once('exit', r));
    const e = publish(build(root, '0.2.1', 'e'));
    expect(e.pruned.sort()).toEqual([a.name, c.name].sort());
  });

  it('launchers starting side by side publish the same build once and leave no stage behind', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pubmon-'));
    dirs.push(root);
    const built = build(root, '0.1.0', 'same');
    const script = join(__dirname, 'publish-monitor.mjs');
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number | null>((r) => spawn(process.execPath, [script, built], { stdio: 'ignore' }).once('exit', r))),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const store = join(root, 'monitors', 'shim');
    expect(readdirSync(store).filter((d) => d !== 'current')).toEqual([readlinkSync(join(store, 'current'))]);
  });

  it('refuses a version that cannot be a folder name', () => {
    const root = mkdtempSync(join(tmpdir(), 'pubmon-'));
    dirs.push(root);
    expect(() => publish(build(root, '../x', 'a'))).toThrow(/unusable version/);
  });
});
