import { describe, expect, it } from 'vitest';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS, serviceEnv, serviceNodeFlags } from './node-flags';

describe('service node flags', () => {
  it('bounds the young generation and leaves source maps off by default', () => {
    expect(serviceNodeFlags({})).toEqual(SERVICE_NODE_FLAGS);
    expect(SERVICE_NODE_FLAGS).toContain('--max-semi-space-size=1');
    expect(SERVICE_NODE_FLAGS).not.toContain('--enable-source-maps');
  });
  it('BERTH_NODE_FLAGS replaces the set, empty meaning none', () => {
    expect(serviceNodeFlags({ BERTH_NODE_FLAGS: ' --enable-source-maps  --max-semi-space-size=4 ' })).toEqual(['--enable-source-maps', '--max-semi-space-size=4']);
    expect(serviceNodeFlags({ BERTH_NODE_FLAGS: '' })).toEqual([]);
  });
  it('gives services fixed malloc thresholds unless the environment sets its own', () => {
    expect(serviceEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', ...SERVICE_MALLOC_ENV });
    expect(serviceEnv({ MALLOC_TRIM_THRESHOLD_: '0' }).MALLOC_TRIM_THRESHOLD_).toBe('0');
    expect(serviceEnv({}).MALLOC_MMAP_THRESHOLD_).toBe('131072');
  });
});
