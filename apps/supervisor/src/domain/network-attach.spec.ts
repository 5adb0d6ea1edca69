import { describe, expect, it } from 'vitest';
import type { DockerConfig } from './model';
import { endpointSettings, networkChoice, portBindings, portMap } from './network-attach';

const config = (exposed: string[] = []) => ({ ExposedPorts: Object.fromEntries(exposed.map((p) => [p, {}])) }) as unknown as DockerConfig;

describe('network-attach', () => {
  it('reads NetworkMode like Docker', () => {
    expect(networkChoice('default')).toEqual({ kind: 'network', name: 'bridge' });
    expect(networkChoice('mynet')).toEqual({ kind: 'network', name: 'mynet' });
    expect(networkChoice('container:web')).toEqual({ kind: 'container', ref: 'web' });
    expect(() => networkChoice('container:')).toThrow(/invalid network mode/);
  });

  it('turns PortBindings and -P into bindings, host ranges included', () => {
    const b = portBindings(config(['9000/udp']), {
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }, { HostPort: '8000-8010' }], '53/udp': null },
      PublishAllPorts: true,
    });
    expect(b).toEqual([
      { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, hostPortEnd: 0 },
      { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8000, hostPortEnd: 8010 },
      { containerPort: 53, protocol: 'udp', hostIp: '', hostPort: 0, hostPortEnd: 0 },
      { containerPort: 9000, protocol: 'udp', hostIp: '', hostPort: 0, hostPortEnd: 0 },
    ]);
    expect(() => portBindings(config(), { PortBindings: { '0/tcp': [] } })).toThrow(/invalid port specification/);
    expect(() => portBindings(config(), { PortBindings: { '80/tcp': [{ HostPort: 'x' }] } })).toThrow(/invalid port specification/);
  });

  it('reads --ip and --network-alias from NetworkingConfig', () => {
    const nc = { EndpointsConfig: { front: { IPAMConfig: { IPv4Address: '10.1.0.9' }, Aliases: ['a'], MacAddress: '02:00:00:00:00:09' } } };
    expect(endpointSettings(nc, 'front')).toEqual({ ip: '10.1.0.9', aliases: ['a'], mac: '02:00:00:00:00:09' });
    expect(endpointSettings(null, 'front')).toEqual({ ip: '', aliases: [], mac: '' });
  });

  it('shows exposed ports without bindings as null, as docker inspect does', () => {
    const m = portMap(config(['80/tcp', '81/tcp']), [{ ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 32768 }] } as never]);
    expect(m).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }], '81/tcp': null });
  });
});
