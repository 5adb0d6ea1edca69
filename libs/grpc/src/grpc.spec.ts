import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayV1, health, netproxyV1 } from '@berth/proto';
import { isNotFound, kindOf, notFound } from '@berth/errors';
import { connect, type ContractImpl, ServiceServer, unary, unaryHandler } from './index';

const servers: ServiceServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

function sock(): string {
  return `unix://${join(mkdtempSync(join(tmpdir(), 'berth-grpc-')), 's.sock')}`;
}

function networksServer(): ServiceServer {
  const s = new ServiceServer({ name: 'netproxy', version: '1.2.3', details: () => ({ driver: 'bridge' }) });
  // Two calls are enough to exercise the plumbing; the contract's other methods stay unserved.
  const impl = {
    listNetworks: unaryHandler(() => ({ networks: [] })),
    getNetwork: unaryHandler((req: netproxyV1.GetNetworkRequest) => {
      throw notFound(`network ${req.reference} not found`);
    }),
  } as unknown as ContractImpl<netproxyV1.NetworksServer>;
  s.add<netproxyV1.NetworksServer>('berth.netproxy.v1', netproxyV1.NetworksService, impl);
  servers.push(s);
  return s;
}

describe('grpc plumbing', () => {
  it('serves Info and grpc.health.v1 for every contract', async () => {
    const addr = sock();
    await networksServer().listen(addr);
    const c = connect(netproxyV1.NetworksClient, addr);
    const info = await unary('netproxy', c.info.bind(c), {});
    expect(info).toMatchObject({ name: 'netproxy', version: '1.2.3', contracts: ['berth.netproxy.v1'], pid: process.pid });
    expect(info.details).toEqual({ driver: 'bridge' });
    const h = connect(health.HealthClient, addr);
    const res = await unary('netproxy', h.check.bind(h), { service: 'berth.netproxy.v1' });
    expect(res.status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    c.close();
    h.close();
  });

  it('maps domain errors across the wire', async () => {
    const addr = sock();
    await networksServer().listen(addr);
    const c = connect(netproxyV1.NetworksClient, addr);
    const err = await unary('netproxy', c.getNetwork.bind(c), { reference: 'nope' }).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toBe('network nope not found');
    c.close();
  });

  it('waits for a peer that is restarting, within the deadline', async () => {
    const addr = sock();
    const c = connect(gatewayV1.GatewayClient, addr);
    const pending = unary('gateway', c.info.bind(c), {}, { deadlineMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    const s = new ServiceServer({ name: 'gateway', version: '0.0.1' });
    s.add('berth.gateway.v1', gatewayV1.GatewayService, {});
    servers.push(s);
    await s.listen(addr);
    expect((await pending).name).toBe('gateway');
    c.close();
  });

  it('gives up at the deadline when the peer never comes', async () => {
    const c = connect(gatewayV1.GatewayClient, sock());
    const started = Date.now();
    const err = await unary('gateway', c.info.bind(c), {}, { deadlineMs: 300 }).catch((e: unknown) => e);
    expect(['deadline_exceeded', 'unavailable']).toContain(kindOf(err));
    expect(Date.now() - started).toBeLessThan(3_000);
    c.close();
  });
});
