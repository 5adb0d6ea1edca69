import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { check } from './boundaries';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A tree of projects (folder -> tags) and files (path -> text). */
function tree(projects: Record<string, string[]>, files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'bounds-'));
  for (const area of ['apps', 'libs', 'tools']) mkdirSync(join(root, area), { recursive: true });
  for (const [dir, tags] of Object.entries(projects)) {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'project.json'), JSON.stringify({ name: dir.split('/')[1], tags }));
  }
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

describe('module boundaries', () => {
  it('pass on the repository as it is', () => {
    expect(check([])).toEqual([]);
  });

  it('refuse an app importing an app, a relative import out of a project, and a lib cycle', () => {
    const r = tree(
      { 'apps/a': ['type:app'], 'apps/b': ['type:app'], 'libs/x': ['type:util'], 'libs/y': ['type:util'] },
      {
        'apps/a/src/main.ts': "import { b } from '../../b/src/main';\nimport { g } from '@berth/gateway';\n",
        'apps/b/src/main.ts': 'export const b = 1;\n',
        'libs/x/src/index.ts': "import { y } from '@berth/y';\n",
        'libs/y/src/index.ts': "import { x } from '@berth/x';\n",
      },
    );
    const errors = check([], r);
    expect(errors).toContain('apps/a/src/main.ts: relative import ../../b/src/main leaves apps/a');
    expect(errors).toContain('apps/a/src/main.ts: @berth/gateway is not a lib (apps never import apps)');
    expect(errors.some((e) => e.startsWith('import cycle: libs/x -> libs/y -> libs/x'))).toBe(true);
  });

  it('let a tool use the tests\' harness, and nothing else outside it', () => {
    const r = tree(
      { 'tools/bench': ['type:tool'], 'apps/a': ['type:app'] },
      {
        'tools/bench/run.ts': "import { Suite } from '../../tests/support/berth';\nimport { c } from '../../tests/integration/c.test';\n",
        'apps/a/src/main.ts': "import { Suite } from '../../../tests/support/berth';\n",
      },
    );
    expect(check([], r).sort()).toEqual([
      'apps/a/src/main.ts: relative import ../../../tests/support/berth leaves apps/a',
      'tools/bench/run.ts: relative import ../../tests/integration/c.test leaves tools/bench',
    ]);
  });
});
