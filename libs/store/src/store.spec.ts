import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordStore, writeFileAtomic, writeFileReplace } from './index';

const tmp = () => mkdtempSync(join(tmpdir(), 'berth-store-'));

describe('RecordStore', () => {
  it('persists records across reloads', () => {
    const dir = tmp();
    const a = new RecordStore<{ n: number }>(dir).load();
    a.put('one', { n: 1 });
    a.put('two', { n: 2 });
    a.delete('one');
    const b = new RecordStore<{ n: number }>(dir).load();
    expect(b.entries()).toEqual([['two', { n: 2 }]]);
  });

  it('drops temp files of an interrupted write and reports corrupt records', () => {
    const dir = tmp();
    writeFileSync(join(dir, '.x.json.abc.tmp'), '{"half');
    writeFileSync(join(dir, 'bad.json'), '{"half');
    const corrupt: string[] = [];
    const s = new RecordStore(dir).load((id) => corrupt.push(id));
    expect(s.size).toBe(0);
    expect(corrupt).toEqual(['bad']);
    expect(readdirSync(dir)).toEqual(['bad.json']);
  });

  it('still claims the id of a record it could not read, and of one it holds', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), '{"half');
    const s = new RecordStore<{ n: number }>(dir).load();
    s.put('good', { n: 1 });
    expect([s.claims('bad'), s.has('bad'), s.claims('good'), s.claims('none')]).toEqual([true, false, true, false]);
  });

  it('refuses ids that could escape the directory', () => {
    const s = new RecordStore(tmp()).load();
    expect(() => s.put('../x', {})).toThrow(/invalid record id/);
    expect(() => s.put('', {})).toThrow(/invalid record id/);
  });

  it('writes atomically, leaving no temp file behind', () => {
    const dir = tmp();
    writeFileAtomic(join(dir, 'f'), 'a');
    writeFileAtomic(join(dir, 'f'), 'b');
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('replaces a file whole without fsync, leaving no temp file behind', () => {
    const dir = tmp();
    writeFileReplace(join(dir, 'sub', 'f'), 'a');
    writeFileReplace(join(dir, 'sub', 'f'), 'bb', 0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['f']);
    expect(readFileSync(join(dir, 'sub', 'f'), 'utf8')).toBe('bb');
  });
});
