import { defineConfig } from 'vitest/config';
import integration from '../../tests/vitest.integration.mts';

// The checks against a reference Docker engine: by hand only, never in `npm test`.
export default defineConfig({ ...integration, test: { ...integration.test, include: ['tools/bench/*.compat.ts'] } });
