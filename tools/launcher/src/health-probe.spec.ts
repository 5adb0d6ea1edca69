import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceServer } from '@berth/grpc';
import { probeHealthy } from './health-probe';

const dir = mkdtempSync(join(tmpdir(), 'probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the launcher health probe (grpc.health.v1 over node:http2)', () => {
  it('is true for a serving gRPC server, false once it stops serving', async () => {
    const address = `unix://${join(dir, 'svc.sock')}`;
    const server = new ServiceServer({ name: 'probe', version: '0' });
    await server.listen(address);
    try {
      expect(await probeHealthy(address, 10_000)).toBe(true);
      server.health.set('', false);
      expect(await probeHealthy(address, 10_000)).toBe(false);
    } finally {
      await server.close(100);
    }
  });

  it('is false, not a hang or a throw, with nothing there, something that never answers, or a bad address', async () => {
    expect(await probeHealthy(`unix://${join(dir, 'absent.sock')}`, 10_000)).toBe(false);
    const mute = createServer(() => undefined);
    const path = join(dir, 'mute.sock');
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      expect(await probeHealthy(`unix://${path}`, 300)).toBe(false);
    } finally {
      mute.close();
    }
    expect(await probeHealthy('tcp://127.0.0.1:1', 300)).toBe(false);
  });
});
