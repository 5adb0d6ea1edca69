import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { netproxyV1 } from '@berth/proto';
import { type ContractImpl, ServiceServer, SharedChannels, unary } from './index';

const servers: ServiceServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

async function serve(addr: string, version: string): Promise<ServiceServer> {
  const s = new ServiceServer({ name: 'netproxy', version });
  s.add<netproxyV1.NetworksServer>('berth.netproxy.v1', netproxyV1.NetworksService, {} as ContractImpl<netproxyV1.NetworksServer>);
  servers.push(s);
  await s.listen(addr);
  return s;
}

const info = (c: netproxyV1.NetworksClient) => unary('netproxy', c.info.bind(c), {}, { idempotent: false, deadlineMs: 5_000 });

describe('SharedChannels', () => {
  it('keeps one channel per address: closing a client leaves it for the next, and for a client still using it', async () => {
    const addr = `unix://${join(mkdtempSync(join(tmpdir(), 'berth-shared-')), 's.sock')}`;
    await serve(addr, '1');
    const shared = new SharedChannels();
    const a = shared.client(netproxyV1.NetworksClient, addr);
    const b = shared.client(netproxyV1.NetworksClient, addr);
    expect((await info(a)).version).toBe('1');
    a.close();
    expect((await info(b)).version).toBe('1');
    b.close();
    expect((await info(shared.client(netproxyV1.NetworksClient, addr))).version).toBe('1');
    expect(shared.size).toBe(1);
    shared.close();
  });

  it('replaces a channel whose peer went away, instead of failing in its reconnect backoff', async () => {
    const addr = `unix://${join(mkdtempSync(join(tmpdir(), 'berth-shared-')), 's.sock')}`;
    const first = await serve(addr, '1');
    const shared = new SharedChannels();
    expect((await info(shared.client(netproxyV1.NetworksClient, addr))).version).toBe('1');
    await first.close(100);
    // A call while nothing listens fails (the monitor is gone) and leaves the channel failed.
    await expect(info(shared.client(netproxyV1.NetworksClient, addr))).rejects.toThrow();
    await serve(addr, '2');
    expect((await info(shared.client(netproxyV1.NetworksClient, addr))).version).toBe('2');
    shared.close();
  });
});
