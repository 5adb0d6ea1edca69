import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { span, tracing } from './trace';

// BERTH_TRACE is read once at load, so the "on" case runs in a child process.
const script = (file: string) => `
  process.env.BERTH_TRACE = ${JSON.stringify(file)};
  const t = await import(${JSON.stringify(join(__dirname, 'trace.ts'))});
  t.traceService('svc');
  const end = t.span('step one', 'abc');
  await new Promise((r) => setTimeout(r, 20));
  end();
  t.traceDuration('measured', 'abc', 7);
  await t.traced('promised', '', Promise.resolve(1));
`;

describe('trace', () => {
  it('is off, and costs one shared no-op, without BERTH_TRACE', () => {
    expect(process.env.BERTH_TRACE).toBeUndefined();
    expect(tracing()).toBe(false);
    expect(span('a')).toBe(span('b'));
  });

  it('appends one JSON line per step to the BERTH_TRACE file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'trace-')), 't.jsonl');
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(file)], { env: { ...process.env, BERTH_TRACE: '' } });
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { svc: string; step: string; id: string; at: number; ms: number });
    expect(lines.map((l) => [l.svc, l.step, l.id])).toEqual([
      ['svc', 'step one', 'abc'],
      ['svc', 'measured', 'abc'],
      ['svc', 'promised', ''],
    ]);
    expect(lines[0]!.ms).toBeGreaterThanOrEqual(15);
    expect(lines[1]!.ms).toBe(7);
    expect(lines[1]!.at).toBeLessThanOrEqual(Date.now() - 7);
  });
});
