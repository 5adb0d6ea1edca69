import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, run } from '../support/berth';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A scratch git repository holding the protos and the check, with one commit. */
async function scratchRepo(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-contracts-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'proto'), join(dir, 'proto'), { recursive: true });
  cpSync(join(ROOT, 'tools/checks'), join(dir, 'tools/checks'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const git = (...args: string[]) => run('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  return dir;
}

async function commitEdit(dir: string, file: string, from: string, to: string): Promise<void> {
  const p = join(dir, file);
  const text = readFileSync(p, 'utf8');
  expect(text).toContain(from);
  writeFileSync(p, text.replace(from, to));
  await run('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qam', 'edit'], { cwd: dir });
}

describe('contract checks', () => {
  it('fail on a breaking change to a published v1 contract', async () => {
    const dir = await scratchRepo();
    await commitEdit(dir, 'proto/berth/shim/v1/shim.proto', 'int32 exit_code = 4;', 'int32 exit_code = 14;');
    const r = await run('bash', ['tools/checks/proto-breaking.sh'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain('BREAKING');
  });

  it('accept a compatible addition', async () => {
    const dir = await scratchRepo();
    await commitEdit(dir, 'proto/berth/shim/v1/shim.proto', 'string bundle = 6;', 'string bundle = 6;\n  string runtime = 7;');
    const r = await run('bash', ['tools/checks/proto-breaking.sh'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });

  it('catch generated code that drifted from the protos', async () => {
    const r = await run('bash', ['tools/checks/proto-gen.sh', '--check'], { cwd: ROOT });
    expect(r.code, r.stderr).toBe(0);
    const dir = await scratchRepo();
    cpSync(join(ROOT, 'libs/proto'), join(dir, 'libs/proto'), { recursive: true });
    await commitEdit(dir, 'proto/berth/shim/v1/shim.proto', 'string bundle = 6;', 'string bundle = 6;\n  string runtime = 7;');
    const drift = await run('bash', ['tools/checks/proto-gen.sh', '--check'], { cwd: dir });
    expect(drift.code).toBe(1);
    expect(drift.stderr).toContain('out of date');
  });
});
