import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));
const alias = Object.fromEntries(
  readdirSync(`${root}libs`).map((name) => [`@berth/${name}`, `${root}libs/${name}/src/index.ts`]),
);

// Integration tests start whole suites (real processes, sockets, mounts): run files one or
// two at a time and give them room.
export default defineConfig({
  root,
  resolve: { alias },
  test: {
    include: ['tests/integration/**/*.test.ts'],
    setupFiles: ['tests/support/no-group-signals.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
