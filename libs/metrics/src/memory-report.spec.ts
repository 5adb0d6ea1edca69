import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryReportFile, writeMemoryReport } from './memory-report';

const dir = mkdtempSync(join(tmpdir(), 'memreport-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('memory report', () => {
  it('writes heap figures before and after a full collection, named by service and pid', () => {
    const file = writeMemoryReport(join(dir, 'memory'), 'gateway');
    expect(file).toBe(memoryReportFile(join(dir, 'memory'), 'gateway', process.pid));
    const r = JSON.parse(readFileSync(file, 'utf8'));
    expect(r.pid).toBe(process.pid);
    expect(r.heap.used).toBeGreaterThan(0);
    expect(r.spaces.old_space.size).toBeGreaterThan(0);
    // Garbage made just before is gone after the collection the report forces.
    let junk: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i }));
    expect(junk.length).toBe(200_000);
    junk = undefined;
    const r2 = JSON.parse(readFileSync(writeMemoryReport(join(dir, 'memory'), 'gateway'), 'utf8'));
    expect(r2.afterFullGc.heap.used).toBeLessThan(r2.heap.used);
  });
});
