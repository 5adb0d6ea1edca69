import { describe, expect, it } from 'vitest';
import { isFailedPrecondition, isNotFound } from '@berth/errors';
import { newId, resolveRef } from './index';

describe('resolveRef', () => {
  const items = [
    { id: 'abc111', name: 'web' },
    { id: 'abc222', name: 'db' },
    { id: 'ffff00', name: 'abc111x' },
  ];
  it('prefers exact id, then name, then a unique prefix', () => {
    expect(resolveRef(items, 'abc111', 'container').name).toBe('web');
    expect(resolveRef(items, 'db', 'container').id).toBe('abc222');
    expect(resolveRef(items, '/db', 'container').id).toBe('abc222');
    expect(resolveRef(items, 'ff', 'container').name).toBe('abc111x');
  });
  it('refuses ambiguous prefixes and unknown refs with Docker messages', () => {
    const amb = (() => { try { resolveRef(items, 'abc', 'container'); } catch (e) { return e; } })();
    expect(isFailedPrecondition(amb)).toBe(true);
    expect(() => resolveRef(items, 'nope', 'network')).toThrow('No such network: nope');
    expect(isNotFound((() => { try { resolveRef(items, 'nope', 'x'); } catch (e) { return e; } })())).toBe(true);
  });
  it('makes 64-hex ids', () => {
    expect(newId()).toMatch(/^[0-9a-f]{64}$/);
  });
});
