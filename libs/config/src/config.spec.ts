import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseHost, resolveConfig } from './index';

function file(doc: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
  const f = join(dir, 'daemon.json');
  writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
}

describe('config', () => {
  it('uses dockerd-like defaults under the exec root', () => {
    const c = resolveConfig({});
    expect(c.dataRoot).toBe('/var/lib/berth');
    expect(c.execRoot).toBe('/run/berth');
    expect(c.hosts).toEqual(['unix:///run/berth/docker.sock']);
    expect(c.redis).toBe('unix:///run/berth/redis.sock');
    expect(c.privateRedis).toBe(true);
    expect(c.services.images).toBe('unix:///run/berth/images.sock');
  });

  it('bounds uploads by max-upload-expanded-bytes, 0 (free disk less a reserve) by default', () => {
    expect(resolveConfig({}).maxUploadExpandedBytes).toBe(0);
    expect(resolveConfig({ 'max-upload-expanded-bytes': 1 << 30 }).maxUploadExpandedBytes).toBe(1 << 30);
    expect(() => resolveConfig({ 'max-upload-expanded-bytes': '1g' })).toThrow(/max-upload-expanded-bytes/);
    expect(() => resolveConfig({ 'max-upload-expanded-bytes': -1 })).toThrow(/max-upload-expanded-bytes/);
  });

  it('derives every default address from flags', () => {
    const { config } = loadConfig(['--data-root', '/tmp/d', '--exec-root=/tmp/e']);
    expect(config.hosts).toEqual(['unix:///tmp/e/docker.sock']);
    expect(config.services.supervisor).toBe('unix:///tmp/e/supervisor.sock');
    expect(config.dataRoot).toBe('/tmp/d');
  });

  it('lets one service be swapped by address', () => {
    const f = file({ services: { snapshotter: { address: 'unix:///tmp/other.sock' } } });
    expect(loadConfig(['--config', f]).config.services.snapshotter).toBe('unix:///tmp/other.sock');
  });

  it('leaves a service with managed: false to an external process, which needs an address', () => {
    const f = file({ services: { snapshotter: { address: 'unix:///tmp/other.sock', managed: false }, images: { managed: true } } });
    const { config } = loadConfig(['--config', f]);
    expect(config.externalServices).toEqual(['snapshotter']);
    expect(config.services.images).toMatch(/images\.sock$/);
    expect(() => loadConfig(['--config', file({ services: { snapshotter: { managed: false } } })])).toThrow(/services/);
    expect(() => loadConfig(['--config', file({ services: { snapshotter: { address: 'unix:///x', managed: 'no' } } })])).toThrow(/services/);
    expect(() => loadConfig(['--config', file({ services: { snapshotter: { address: 'unix:///x', extra: 1 } } })])).toThrow(/services/);
  });

  it('starts the builder on demand unless told otherwise; an external service is never started', () => {
    expect(loadConfig(['--config', file({})]).config.onDemandServices).toEqual(['builder']);
    expect(loadConfig(['--config', file({ services: { builder: { 'on-demand': false }, images: { 'on-demand': true } } })]).config.onDemandServices).toEqual(['images']);
    expect(loadConfig(['--config', file({ services: { builder: { address: 'unix:///x', managed: false } } })]).config.onDemandServices).toEqual([]);
    expect(() => loadConfig(['--config', file({ services: { builder: { 'on-demand': 'yes' } } })])).toThrow(/services/);
  });

  it('rejects unknown keys, naming them', () => {
    expect(() => loadConfig(['--config', file({ 'data-rot': '/x', bogus: 1 })])).toThrow(
      "the following directives don't match any configuration option: bogus, data-rot",
    );
  });

  it('rejects ill-typed values and broken JSON', () => {
    expect(() => loadConfig(['--config', file({ hosts: 'unix:///x' })])).toThrow(/invalid value .*hosts/);
    expect(() => loadConfig(['--config', file('{ nope')])).toThrow(/unable to configure the Berth daemon/);
  });

  it('refuses a key given both as a flag and in the file, like dockerd', () => {
    const f = file({ 'data-root': '/a' });
    expect(() => loadConfig(['--config', f, '--data-root', '/b'])).toThrow(/both as a flag and in the configuration file: data-root/);
  });

  it('rejects unknown flags and missing values', () => {
    expect(() => loadConfig(['--nope'])).toThrow('unknown flag: --nope');
    expect(() => loadConfig(['--data-root'])).toThrow('flag needs an argument: --data-root');
  });

  it('parses -H addresses', () => {
    expect(parseHost('unix:///run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parseHost('tcp://127.0.0.1:2375')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(() => parseHost('http://x')).toThrow('invalid bind address format');
  });
});
