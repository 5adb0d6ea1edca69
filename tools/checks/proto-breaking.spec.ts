import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// The contract check must refuse what would break a caller built against the last release.
// Each case edits a copy of proto/ and runs the same buf rules against the committed baseline.
const ROOT = resolve(__dirname, '../..');
const BUF = join(ROOT, 'node_modules/.bin/buf');
const SHIM = 'berth/shim/v1/shim.proto';

function newestBaseline(): string {
  const names = readdirSync(join(ROOT, 'proto/baselines')).filter((n) => n.endsWith('.binpb'));
  names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return join(ROOT, 'proto/baselines', names[names.length - 1]!);
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs buf breaking on a copy of proto/ edited by `edit`; returns its exit status and output. */
function checkEdited(edit: (text: string) => string): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'proto-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'proto'), dir, { recursive: true, filter: (src) => !src.includes('baselines') });
  const file = join(dir, SHIM);
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  writeFileSync(file, after);
  const r = spawnSync(BUF, ['breaking', dir, '--against', newestBaseline()], { encoding: 'utf8' });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe('contract check against the release baseline', () => {
  it('passes the tree as it is', () => {
    execFileSync(BUF, ['breaking', join(ROOT, 'proto'), '--against', newestBaseline()], { stdio: 'pipe' });
  });

  it('passes an added field and an added RPC', () => {
    const r = checkEdited((t) =>
      t
        .replace('bool close_stdin = 7;', 'bool close_stdin = 7;\n  string added_later = 99;')
        .replace('rpc ExecState(ExecStateRequest) returns (ExecStateResponse);', 'rpc ExecState(ExecStateRequest) returns (ExecStateResponse);\n  rpc AddedLater(ExecStateRequest) returns (ExecStateResponse);'),
    );
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('refuses a deleted RPC', () => {
    const r = checkEdited((t) => t.replace('  rpc ExecState(ExecStateRequest) returns (ExecStateResponse);\n', ''));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/ExecState/);
  });

  it('refuses a renumbered field', () => {
    const r = checkEdited((t) => t.replace('bool close_stdin = 7;', 'bool close_stdin = 17;'));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/close_stdin|7/);
  });

  it('refuses a changed type', () => {
    const r = checkEdited((t) => t.replace('bytes process_json = 2;', 'string process_json = 2;'));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/process_json/);
  });

  it('refuses a deleted service', () => {
    const r = checkEdited((t) => t.replace(/service \w+ \{[\s\S]*?\n\}\n/, ''));
    expect(r.status).not.toBe(0);
  });
});
