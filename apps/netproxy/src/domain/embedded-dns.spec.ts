import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@berth/logging';
import { EmbeddedDns } from './embedded-dns';
import { TYPE_A } from './dns-message';

function query(name: string, id = 7): Buffer {
  const parts = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPE_A, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([Buffer.from([0, id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...parts, Buffer.from([0]), tail]);
}

function ask(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('message', (m) => {
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function fakeUpstream(): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const s: Socket = createSocket('udp4');
  s.on('message', (m, from) => {
    seen.push(m.subarray(12).toString('latin1'));
    const r = Buffer.from(m);
    r.writeUInt16BE(0x8183, 2); // a reply, NXDOMAIN: enough to tell it came from here
    s.send(r, from.port, from.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  closers.push(() => s.close());
  return { port: s.address().port, seen };
}

describe('EmbeddedDns', () => {
  it('answers names of its network, refuses unknown single labels itself and forwards the rest to the container\'s resolver', async () => {
    const up = await fakeUpstream();
    const dns = new EmbeddedDns(
      (net, name) => (net === 'n1' && name === 'web' ? ['10.1.0.2'] : undefined),
      createLogger({ service: 'test', level: 'fatal' }),
      () => ['127.0.0.1'],
      [],
      up.port,
    );
    closers.push(() => dns.close());
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    probe.close();
    await dns.serve('n1', '127.0.0.1', port);

    const a = await ask(port, query('web'));
    expect(a.readUInt16BE(6)).toBe(1);
    expect([...a.subarray(a.length - 4)]).toEqual([10, 1, 0, 2]);
    const nx = await ask(port, query('nosuch'));
    expect(nx.readUInt16BE(2) & 0xf).toBe(3);
    expect(up.seen).toEqual([]);
    const local = await ask(port, query('web.invalid'));
    expect(local.readUInt16BE(2) & 0xf).toBe(3);
    expect(up.seen).toEqual([]);
    const fwd = await ask(port, query('db.example', 9));
    expect(fwd.readUInt16BE(0)).toBe(9);
    expect(up.seen).toHaveLength(1);
  });
});
