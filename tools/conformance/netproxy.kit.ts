import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { netproxyV1 } from '@berth/proto';
import { type Case, check, equal, type Kit, Peer, rejectsWith, sh, unique } from './kit';

/**
 * The netproxy contract (berth.netproxy.v1 Networks): predefined networks, user-defined bridge
 * networks, endpoints in persistent network namespaces (seen from inside them), published
 * ports all or nothing, errors by kind, and networks, endpoints and namespaces kept across a
 * restart. It makes one network and a few container IDs of its own and takes them away.
 */
export function netproxyKit(): Kit {
  const run = unique('kit');
  const name = `${run}-net`;
  const a = randomBytes(32).toString('hex');
  const b = randomBytes(32).toString('hex');
  const c = randomBytes(32).toString('hex');
  let address = '';
  const nets = new Peer('netproxy', netproxyV1.NetworksClient, () => address);
  let net: netproxyV1.Network | undefined;
  let epA: netproxyV1.Endpoint | undefined;
  let hostPort = 0;
  const attach = (containerId: string, extra: Partial<netproxyV1.AttachRequest> = {}) =>
    nets.call<netproxyV1.Endpoint>('attach', { containerId, network: name, ipv4Address: '', portBindings: [], aliases: [], containerName: `${run}-${containerId.slice(0, 4)}`, dnsServers: [], macAddress: '', ...extra });
  const addrsIn = async (netns: string) => sh('nsenter', [`--net=${netns}`, 'ip', '-o', '-4', 'addr', 'show']);

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run() {
        const info = await nets.call<{ name: string; contracts: string[] }>('info', {});
        check(info.name, 'Info has no name');
        check(info.contracts.some((x) => x.startsWith('berth.netproxy.v1')), `Info lists no berth.netproxy.v1 contract: ${info.contracts.join(', ')}`);
      },
    },
    {
      name: 'the predefined networks exist, by name, ID and ID prefix, and cannot be removed',
      async run() {
        const { networks } = await nets.call<netproxyV1.ListNetworksResponse>('listNetworks', {});
        const byName = new Map(networks.map((n) => [n.name, n]));
        for (const [n, driver] of [['bridge', 'bridge'], ['host', 'host'], ['none', 'null']] as const) equal(byName.get(n)?.driver, driver, `driver of the predefined ${n}`);
        const bridge = byName.get('bridge')!;
        check(/^[0-9a-f]{64}$/.test(bridge.id), `bridge network ID ${bridge.id}`);
        equal((await nets.call<netproxyV1.Network>('getNetwork', { reference: bridge.id })).name, 'bridge', 'GetNetwork by ID');
        equal((await nets.call<netproxyV1.Network>('getNetwork', { reference: bridge.id.slice(0, 12) })).name, 'bridge', 'GetNetwork by ID prefix');
        for (const n of ['host', 'none', 'bridge']) await rejectsWith(nets.call('removeNetwork', { reference: n }), 'permission_denied', `RemoveNetwork of ${n}`);
        await rejectsWith(nets.call('getNetwork', { reference: `${run}-none` }), 'not_found', 'GetNetwork of an unknown network');
      },
    },
    {
      name: 'CreateNetwork makes a bridge network with a subnet from the pool; a taken name is ALREADY_EXISTS; bad input is INVALID_ARGUMENT',
      async run() {
        net = await nets.call<netproxyV1.Network>('createNetwork', { name, driver: 'bridge', internal: false, options: {}, labels: { kit: run }, ipam: [], enableIpv6: false });
        equal([net.name, net.driver, net.scope], [name, 'bridge', 'local'], 'the network');
        equal(net.bridge, `br-${net.id.slice(0, 12)}`, 'bridge name');
        check(net.ipam[0]?.subnet && net.ipam[0].gateway, `no subnet or gateway: ${JSON.stringify(net.ipam)}`);
        await sh('ip', ['link', 'show', net.bridge]);
        await rejectsWith(nets.call('createNetwork', { name, driver: 'bridge', internal: false, options: {}, labels: {}, ipam: [], enableIpv6: false }), 'already_exists', 'a second network of one name');
        await rejectsWith(nets.call('createNetwork', { name: `${run}-bad`, driver: 'bridge', internal: false, options: {}, labels: {}, ipam: [{ subnet: '10.300.0.0/24', gateway: '', ipRange: '' }], enableIpv6: false }), 'invalid_argument', 'a bad subnet');
        await rejectsWith(nets.call('createNetwork', { name: `bad name ${run}`, driver: 'bridge', internal: false, options: {}, labels: {}, ipam: [], enableIpv6: false }), 'invalid_argument', 'a bad name');
        await rejectsWith(nets.call('createNetwork', { name: `${run}-drv`, driver: `nodriver${run.length}`, internal: false, options: {}, labels: {}, ipam: [], enableIpv6: false }), 'not_found', 'an unknown driver');
      },
    },
    {
      name: 'Attach gives a namespace with an address on the network; attaching again returns the same endpoint',
      async run() {
        const base = net!.ipam[0]!.subnet.split('/')[0]!.split('.').map(Number);
        const want = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 50}`;
        epA = await attach(a, { ipv4Address: want, portBindings: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0 }], aliases: ['kitalias'] });
        equal([epA.networkName, epA.ipv4Address, epA.gateway], [name, want, net!.ipam[0]!.gateway], 'the endpoint');
        check(existsSync(epA.netnsPath), `no network namespace at ${epA.netnsPath}`);
        check((await addrsIn(epA.netnsPath)).includes(`${want}/`), `the address is not inside the namespace: ${await addrsIn(epA.netnsPath)}`);
        const again = await attach(a, { ipv4Address: want, portBindings: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0 }] });
        equal([again.endpointId, again.ipv4Address, again.netnsPath], [epA.endpointId, epA.ipv4Address, epA.netnsPath], 'a second Attach');
        await rejectsWith(attach(b, { ipv4Address: want }), 'conflict', 'a static address already in use');
        await rejectsWith(attach(b, { network: `${run}-none` }), 'not_found', 'Attach to an unknown network');
        await rejectsWith(attach('nothex'), 'invalid_argument', 'Attach of a malformed container ID');
        await rejectsWith(attach(b, { network: 'host' }), 'invalid_argument', 'Attach to the host network');
        const got = await nets.call<netproxyV1.Network>('getNetwork', { reference: name });
        equal(got.endpoints.map((e) => e.containerId), [a], 'endpoints of the network');
      },
    },
    {
      name: 'Publish picks a host port and repeats as a no-op; a taken host port fails with CONFLICT and publishes nothing',
      async run() {
        const { endpoints } = await nets.call<netproxyV1.PublishResponse>('publish', { containerId: a });
        hostPort = endpoints[0]?.ports[0]?.hostPort ?? 0;
        check(hostPort > 0, `Publish chose no host port: ${JSON.stringify(endpoints)}`);
        const again = await nets.call<netproxyV1.PublishResponse>('publish', { containerId: a });
        equal(again.endpoints[0]?.ports[0]?.hostPort, hostPort, 'host port after a second Publish');
        const epB = await attach(b, {
          portBindings: [
            { containerPort: 81, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0 },
            { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort, hostPortEnd: 0 },
          ],
        });
        await rejectsWith(nets.call('publish', { containerId: b }), 'conflict', 'Publish of a taken host port');
        const gotB = await nets.call<netproxyV1.Network>('getNetwork', { reference: name });
        check(gotB.endpoints.some((e) => e.containerId === b), 'the endpoint of a failed Publish went away');
        const rules = await sh('nft', ['list', 'ruleset']);
        check(rules.includes(`dport ${hostPort} `) && rules.includes(`${epA!.ipv4Address}:80`), `no NAT rule for the published port ${hostPort}`);
        check(!rules.includes(`${epB.ipv4Address}:81`), 'a failed Publish left the binding it could take published');
      },
    },
    {
      name: 'Rename shows the new name on the network; a network with endpoints cannot be removed (PERMISSION_DENIED)',
      async run() {
        await nets.call('rename', { containerId: a, name: `${run}-renamed` });
        const got = await nets.call<netproxyV1.Network>('getNetwork', { reference: name });
        equal(got.endpoints.find((e) => e.containerId === a)?.containerName, `${run}-renamed`, 'name after Rename');
        await rejectsWith(nets.call('removeNetwork', { reference: name }), 'permission_denied', 'RemoveNetwork with endpoints');
      },
    },
    {
      name: 'networks, endpoints, namespaces and published ports survive a restart of the endpoint',
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        nets.close();
        const got = await nets.call<netproxyV1.Network>('getNetwork', { reference: name });
        equal(got.id, net!.id, 'network ID after restart');
        equal(got.endpoints.map((e) => e.containerId).sort(), [a, b].sort(), 'endpoints after restart');
        check((await addrsIn(epA!.netnsPath)).includes(`${epA!.ipv4Address}/`), 'the address inside the namespace after restart');
        const again = await attach(a);
        equal(again.endpointId, epA!.endpointId, 'Attach after restart returns the kept endpoint');
        const { endpoints } = await nets.call<netproxyV1.PublishResponse>('publish', { containerId: a });
        equal(endpoints[0]?.ports[0]?.hostPort, hostPort, 'the published port after restart');
      },
    },
    {
      name: 'Unpublish, Detach, Release (twice) and Retain take endpoints and ports away',
      async run() {
        await nets.call('unpublish', { containerId: a });
        const rules = await sh('nft', ['list', 'ruleset']);
        check(!rules.includes(`dport ${hostPort} `), `a NAT rule for ${hostPort} is left after Unpublish`);
        await nets.call('detach', { containerId: b, network: name });
        await rejectsWith(nets.call('detach', { containerId: b, network: name }), 'not_found', 'a second Detach');
        await nets.call('release', { containerId: a });
        check(!existsSync(epA!.netnsPath), `the namespace ${epA!.netnsPath} is left after Release`);
        await nets.call('release', { containerId: a });
        await nets.call('release', { containerId: c });
        await attach(b);
        await attach(c);
        const kept = await nets.call<netproxyV1.RetainResponse>('retain', { containerIds: [c] });
        check(kept.released.includes(b) && !kept.released.includes(c), `Retain released ${kept.released.join(', ')}`);
        const got = await nets.call<netproxyV1.Network>('getNetwork', { reference: name });
        equal(got.endpoints.map((e) => e.containerId), [c], 'endpoints after Retain');
        await nets.call('release', { containerId: c });
      },
    },
    {
      name: 'RemoveNetwork of an empty network takes its bridge; again is NOT_FOUND; PruneNetworks takes only what matches',
      async run() {
        await nets.call('removeNetwork', { reference: name });
        const left = await sh('ip', ['link', 'show', net!.bridge]).then(
          () => true,
          () => false,
        );
        check(!left, `the bridge ${net!.bridge} is left after RemoveNetwork`);
        await rejectsWith(nets.call('removeNetwork', { reference: name }), 'not_found', 'a second RemoveNetwork');
        const keep = await nets.call<netproxyV1.Network>('createNetwork', { name: `${run}-keep`, driver: 'bridge', internal: false, options: {}, labels: { kit: `${run}-keep` }, ipam: [], enableIpv6: false });
        const drop = await nets.call<netproxyV1.Network>('createNetwork', { name: `${run}-drop`, driver: 'bridge', internal: false, options: {}, labels: { kit: `${run}-drop` }, ipam: [], enableIpv6: false });
        const pruned = await nets.call<netproxyV1.PruneNetworksResponse>('pruneNetworks', { labels: [`kit=${run}-drop`], notLabels: [], untilUnixMs: 0 });
        equal(pruned.deleted, [drop.name], 'PruneNetworks by label');
        await nets.call('removeNetwork', { reference: keep.id });
      },
    },
  ];

  return {
    service: 'netproxy',
    cases,
    setup(ctx) {
      address = ctx.address;
    },
    async cleanup() {
      for (const id of [a, b, c]) await nets.call('release', { containerId: id }).catch(() => undefined);
      for (const n of [name, `${run}-keep`, `${run}-drop`]) await nets.call('removeNetwork', { reference: n }).catch(() => undefined);
      nets.close();
    },
  };
}
