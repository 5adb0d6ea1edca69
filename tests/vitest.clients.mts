import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));
const alias = Object.fromEntries(readdirSync(`${root}libs`).map((name) => [`@berth/${name}`, `${root}libs/${name}/src/index.ts`]));

// The real-client stages (dockerode, testcontainers, compose): each file starts its own suite;
// run.sh runs one file per stage so each prints its own count.
export default defineConfig({
  root,
  resolve: { alias },
  test: {
    include: ['tests/clients/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
