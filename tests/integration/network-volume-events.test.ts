import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers({ volumes: true });
    await suite.docker(['network', 'rm', 'evnet']);
    await suite.stop();
  }
});

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
}

describe('network and volume events, and the filters on them', () => {
  let since = 0;
  let until = 0;
  let netId = '';
  let cid = '';
  const events = async (...filters: string[]) => {
    const r = await suite.docker(['events', '--since', String(since), '--until', String(until), '--format', '{{json .}}', ...filters.flatMap((f) => ['--filter', f])]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
  };

  beforeAll(async () => {
    since = Math.floor(Date.now() / 1000) - 1;
    netId = (await suite.docker(['network', 'create', 'evnet'])).stdout.trim();
    await suite.docker(['volume', 'create', 'evvol']);
    cid = (await suite.docker(['run', '-d', '--name', 'evc', '--network', 'evnet', '-v', 'evvol:/data', 'busybox', 'sleep', '600'])).stdout.trim();
    await suite.docker(['network', 'disconnect', 'evnet', 'evc']);
    await suite.docker(['rm', '-f', 'evc']);
    await suite.docker(['volume', 'rm', 'evvol']);
    await suite.docker(['network', 'rm', 'evnet']);
    until = Math.floor(Date.now() / 1000) + 1;
  });

  it('sends network create, connect, disconnect and destroy with the network as the actor', async () => {
    const net = await events('type=network');
    expect(net.map((e) => e.Action)).toEqual(['create', 'connect', 'disconnect', 'destroy']);
    for (const e of net) {
      expect(e).toMatchObject({ Type: 'network', scope: 'local', Actor: { ID: netId } });
      expect(e.Actor.Attributes).toMatchObject({ name: 'evnet', type: 'bridge' });
      expect(e.time).toBe(Math.floor(e.timeNano / 1e9));
    }
    expect(net[1]!.Actor.Attributes.container).toBe(cid);
    expect(net[2]!.Actor.Attributes.container).toBe(cid);
  });

  it('sends volume create, mount, unmount and destroy', async () => {
    const vol = await events('type=volume', 'volume=evvol');
    expect(vol.map((e) => e.Action)).toEqual(['create', 'mount', 'unmount', 'destroy']);
    for (const e of vol) expect(e).toMatchObject({ Type: 'volume', scope: 'local', Actor: { ID: 'evvol', Attributes: { driver: 'local' } } });
    expect(vol[1]!.Actor.Attributes.container).toBe(cid);
  });

  it('filters by network, volume, daemon and scope', async () => {
    expect((await events('network=evnet')).every((e) => e.Type === 'network')).toBe(true);
    expect((await events('network=evnet')).length).toBe(4);
    expect((await events(`network=${netId.slice(0, 12)}`)).length).toBe(4);
    expect(await events('network=othernet')).toEqual([]);
    expect((await events('volume=evvol')).map((e) => e.Type)).toEqual(['volume', 'volume', 'volume', 'volume']);
    expect(await events('volume=nosuchvolume')).toEqual([]);
    expect(await events('daemon=nosuchdaemon')).toEqual([]);
    expect(await events('scope=swarm')).toEqual([]);
    const local = await events('scope=local');
    expect(local.length).toBeGreaterThan(8);
    // Filters of different keys are AND'ed: nothing is both a volume and a network event.
    expect(await events('type=volume', 'network=evnet')).toEqual([]);
    const bad = await suite.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'colour=blue']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("invalid filter 'colour'");
  });
});
