import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerRecord } from './model';
import { contractMismatch, monitorCounts, monitorOf, monitorPathFor } from './monitor-record';

const rec = (monitor?: ContainerRecord['monitor']) => ({ id: 'x', monitor }) as ContainerRecord;
const info = (contracts: string[]) => ({ name: 'shim', version: '1.2.0', contracts, pid: 1, startedAtUnixMs: 0, details: {} });

describe('monitor records', () => {
  it('an old record without a monitor reads as the shim of unknown version', () => {
    expect(monitorOf(rec())).toEqual({ name: 'shim', version: 'unknown', path: '' });
  });

  it('counts containers per monitor name and version', () => {
    const m = (version: string, name = 'shim') => rec({ name, version, path: `/x/${version}/main.js` });
    expect(monitorCounts([m('0.1.0'), m('0.2.0'), m('0.1.0'), rec(), m('1.0.0', 'conmon')])).toEqual({
      'shim 0.1.0': 2,
      'shim 0.2.0': 1,
      'shim unknown': 1,
      'conmon 1.0.0': 1,
    });
  });

  it('a container keeps the artifact it was started from while it exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mon-'));
    try {
      const kept = join(dir, 'main.js');
      writeFileSync(kept, '');
      expect(monitorPathFor(rec({ name: 'shim', version: '1', path: kept }), () => '/cur')).toBe(kept);
      expect(monitorPathFor(rec({ name: 'shim', version: '1', path: join(dir, 'gone.js') }), () => '/cur')).toBe('/cur');
      expect(monitorPathFor(rec(), () => '/cur')).toBe('/cur');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adopts a monitor serving berth.shim.v1 and refuses another major', () => {
    expect(contractMismatch(info(['berth.shim.v1']))).toBeUndefined();
    expect(contractMismatch(info(['berth.shim.v1', 'berth.shim.v2']))).toBeUndefined();
    expect(contractMismatch(info(['berth.shim.v2']))).toBe('monitor shim 1.2.0 serves berth.shim.v2; this supervisor speaks berth.shim.v1');
    expect(contractMismatch(info([]))).toBe('monitor shim 1.2.0 serves no shim contract; this supervisor speaks berth.shim.v1');
  });
});
