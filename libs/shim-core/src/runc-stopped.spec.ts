import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteStoppedRuncState } from './runc-stopped';

// Plain directories stand in for cgroup dirs here: rmdir treats them alike (a non-empty one
// refuses, as a cgroup with processes does). The real cgroups are covered by container-ops.
let base: string;
const id = 'c1';
const root = () => join(base, 'runtime');
const cg = (h: string) => join(base, 'cg', h, 'berth', id);

function state(extra: Record<string, unknown> = {}, config: Record<string, unknown> = {}): void {
  mkdirSync(join(root(), id), { recursive: true });
  for (const h of ['cpu', 'memory']) mkdirSync(cg(h), { recursive: true });
  const s = { init_process_pid: 999_999_999, init_process_start: 1, cgroup_paths: { cpu: cg('cpu'), cpuacct: cg('cpu'), memory: cg('memory') }, intel_rdt_path: '', config: { cgroups: { systemd: false }, Hooks: { poststop: null }, ...config }, ...extra };
  writeFileSync(join(root(), id, 'state.json'), JSON.stringify(s));
}

const ownStart = () => Number(readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /s, '').split(' ')[19]);

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'runc-stopped-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('deleteStoppedRuncState', () => {
  it('removes the cgroups and the state of a container whose init is gone', () => {
    state();
    expect(deleteStoppedRuncState(root(), id)).toBe(true);
    expect(existsSync(cg('cpu'))).toBe(false);
    expect(existsSync(cg('memory'))).toBe(false);
    expect(existsSync(join(root(), id))).toBe(false);
  });

  it('is done when there is no state at all', () => {
    expect(deleteStoppedRuncState(root(), id)).toBe(true);
  });

  it('leaves a live init to the runtime (same pid, same start time)', () => {
    state({ init_process_pid: process.pid, init_process_start: ownStart() });
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    expect(existsSync(join(root(), id, 'state.json'))).toBe(true);
    expect(existsSync(cg('memory'))).toBe(true);
  });

  it('takes a recycled pid (another start time) as gone', () => {
    state({ init_process_pid: process.pid, init_process_start: ownStart() + 1 });
    expect(deleteStoppedRuncState(root(), id)).toBe(true);
  });

  it('leaves a cgroup that still holds something to the runtime, with its state', () => {
    state();
    writeFileSync(join(cg('memory'), 'left'), '');
    writeFileSync(join(cg('cpu'), 'left'), '');
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    expect(existsSync(join(root(), id, 'state.json'))).toBe(true);
  });

  it('leaves systemd cgroups, poststop hooks, Intel RDT and other runtimes to the runtime', () => {
    state({}, { cgroups: { systemd: true } });
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    state({}, { Hooks: { poststop: [{ path: '/bin/true' }] } });
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    state({ intel_rdt_path: '/sys/fs/resctrl/x' });
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    rmSync(join(root(), id), { recursive: true });
    mkdirSync(join(root(), id));
    writeFileSync(join(root(), id, 'status'), 'stopped');
    expect(deleteStoppedRuncState(root(), id)).toBe(false);
    expect(existsSync(join(root(), id, 'status'))).toBe(true);
  });
});
