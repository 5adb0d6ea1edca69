import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';

const root = fileURLToPath(new URL('.', import.meta.url));
// One alias per lib so that specs import libs the same way the apps do.
const alias = Object.fromEntries(
  readdirSync(`${root}libs`).map((name) => [`@berth/${name}`, `${root}libs/${name}/src/index.ts`]),
);

export default defineConfig({
  resolve: { alias },
  define: { __BERTH_VERSION__: JSON.stringify('0.0.0-test') },
  test: {
    include: ['apps/*/src/**/*.spec.ts', 'libs/*/src/**/*.spec.ts', 'tools/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['tools/test/private-tmp.ts'],
  },
});
