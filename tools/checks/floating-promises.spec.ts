import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { floatingPromises } from './floating-promises';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function project(text: string): string {
  root = mkdtempSync(join(tmpdir(), 'floating-'));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', lib: ['es2022'] }, include: ['*.ts'] }));
  writeFileSync(join(root, 'a.ts'), text);
  return join(root, 'tsconfig.json');
}

describe('floating promises', () => {
  it('finds a dropped promise and only that', () => {
    const found = floatingPromises(
      project(`
async function work(): Promise<number> { return 1; }
function sync(): number { return 2; }
export async function main(): Promise<void> {
  work();
  void work();
  await work();
  sync();
  work().catch(() => undefined);
  work().then(() => 1, () => 2);
  work().catch(() => undefined).finally(() => undefined);
  work().then(() => 1);
  new Promise<void>((r) => r());
}
`),
    );
    expect(found.map((f) => f.replace(/^.*a\.ts:/, ''))).toEqual(['5: work()', '12: work().then(() => 1)', '13: new Promise<void>((r) => r())']);
  });
});
