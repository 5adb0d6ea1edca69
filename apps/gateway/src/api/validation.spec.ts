import { describe, expect, it } from 'vitest';
import { validateBody } from './validation';

const create = (body: unknown) => () => validateBody('POST /containers/create', body);

describe('edge validation from the Engine API spec', () => {
  it("refuses wrong types with the Go decoder's message", () => {
    expect(create({ Image: 'busybox', Tty: 'yes' })).toThrow('json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool');
    expect(create({ Image: 'busybox', Labels: { a: 5 } })).toThrow('json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string');
    expect(create({ Image: 'busybox', HostConfig: { Memory: 'x' } })).toThrow('Go struct field HostConfig.HostConfig.Memory of type int64');
    expect(create({ Image: 'busybox', HostConfig: { RestartPolicy: 'always' } })).toThrow('of type container.RestartPolicy');
    expect(create({ Image: 'busybox', Hostname: 5 })).toThrow('ContainerConfigWrapper.Hostname of type string');
    expect(create({ Image: 'busybox', HostConfig: { CpuShares: 1.5 } })).toThrow('cannot unmarshal number 1.5 into');
    expect(create([])).toThrow('json: cannot unmarshal array into Go value of type ContainerConfigWrapper');
  });

  it('accepts what the Go decoder accepts: nulls, unknown fields, a string Cmd', () => {
    expect(create({ Image: 'busybox', Cmd: 'true', Entrypoint: null, Env: null, Nonsense: { x: 1 }, HostConfig: { Memory: null, CapAdd: 'NET_ADMIN' } })).not.toThrow();
    expect(create({ Image: 'busybox', ExposedPorts: { '80/tcp': {} }, Volumes: { '/data': {} }, Labels: { a: 'b' } })).not.toThrow();
  });

  it('covers exec, network and volume bodies', () => {
    expect(() => validateBody('POST /containers/{id}/exec', { Cmd: 'ls' })).toThrow('ExecConfig.Cmd of type []string');
    expect(() => validateBody('POST /exec/{id}/start', { Detach: 1 })).toThrow('ExecStartCheck.Detach of type bool');
    expect(() => validateBody('POST /networks/create', { Name: 'n', Internal: 'no' })).toThrow('NetworkCreateRequest.Internal of type bool');
    expect(() => validateBody('POST /networks/{id}/connect', { Container: 5 })).toThrow('NetworkConnect.Container of type string');
    expect(() => validateBody('POST /volumes/create', { Name: 'v', DriverOpts: { a: 1 } })).toThrow('VolumeCreateBody.DriverOpts of type string');
    expect(() => validateBody('POST /containers/{id}/update', { Memory: 'x' })).toThrow('UpdateConfig.Memory of type int64');
  });
});
