import { describe, expect, it } from 'vitest';
import { ociMounts, parseApiMount, parseBind, parseVolumesFrom, resolveMounts } from './mounts';

const none = { binds: [], mounts: [], tmpfs: {}, anonymous: [], inherited: [] };

describe('mount parsing', () => {
  it('tells binds from named volumes in -v, with modes', () => {
    expect(parseBind('/host/dir/:/data:ro,rshared')).toMatchObject({ Type: 'bind', Source: '/host/dir', Destination: '/data', RW: false, Propagation: 'rshared' });
    expect(parseBind('vol:/data')).toMatchObject({ Type: 'volume', Name: 'vol', RW: true, Mode: 'z', copyData: true });
    expect(parseBind('vol:/data:nocopy')).toMatchObject({ copyData: false });
  });

  it('refuses bad -v specs with Docker texts', () => {
    expect(() => parseBind('a:b:c:d')).toThrow("invalid volume specification: 'a:b:c:d'");
    expect(() => parseBind('vol:data')).toThrow(`invalid volume specification: 'vol:data': invalid mount config for type "volume": invalid mount path: 'data' mount path must be absolute`);
    expect(() => parseBind('vol:/data:bogus')).toThrow('invalid mode: bogus');
    expect(() => parseBind('a b:/x')).toThrow(/includes invalid characters for a local volume name/);
  });

  it('reads --mount objects', () => {
    expect(() => parseApiMount({ Type: 'bind', Source: '/definitely/not/here', Target: '/x' })).toThrow(
      'invalid mount config for type "bind": bind source path does not exist: /definitely/not/here',
    );
    expect(parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o1777 } }).tmpfsOptions).toEqual(['size=1024k', 'mode=1777']);
    expect(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/t' })).toThrow('field Source must not be specified');
    expect(parseApiMount({ Type: 'volume', Target: '/v', ReadOnly: true })).toMatchObject({ anonymous: true, RW: false });
    expect(() => parseApiMount({ Type: 'npipe', Target: '/v' })).toThrow('mount type unknown');
  });

  it('applies precedence: explicit over volumes-from, anonymous only where free, duplicates refused', () => {
    const inherited = [{ Type: 'volume' as const, Name: 'old', Source: '/s', Destination: '/data', Mode: '', RW: true, Propagation: '' }];
    const got = resolveMounts({ ...none, binds: ['new:/data'], anonymous: ['/data', '/cache'], inherited });
    expect(got.map((m) => [m.Destination, m.Name, m.anonymous ?? false])).toEqual([
      ['/data', 'new', false],
      ['/cache', '', true],
    ]);
    expect(() => resolveMounts({ ...none, binds: ['ab:/x'], tmpfs: { '/x': '' } })).toThrow('Duplicate mount point: /x');
    expect(parseVolumesFrom('c1:ro')).toEqual({ ref: 'c1', rw: false });
    expect(() => parseVolumesFrom('c1:zz')).toThrow(/invalid mode/);
  });

  it('orders OCI mounts parents first and keeps tmpfs safe by default', () => {
    const m = ociMounts(resolveMounts({ ...none, tmpfs: { '/a/b': 'size=1m' }, binds: ['/h:/a:ro'] }));
    expect(m.map((x) => x.destination)).toEqual(['/a', '/a/b']);
    expect(m[0]!.options).toEqual(['rbind', 'rprivate', 'ro']);
    expect(m[1]!.options).toEqual(['nosuid', 'nodev', 'noexec', 'size=1m', 'rw']);
  });
});
