import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScopedRoot } from '@berth/rootfs';
import { packTar, readTar, TarWriter } from '@berth/tar';
import { archivePath, extractArchive, goFileMode, statPath } from './archive';

const canChown = process.getuid?.() === 0;

describe.runIf(canChown)('container archives', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  const host = join(base, 'host');
  const root = join(base, 'root');
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'HOST');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  writeFileSync(join(root, 'tmp', 'in'), 'inside');
  // What a malicious image or container leaves: links at the host dir, at / and above it.
  symlinkSync(host, join(root, 'tmp', 'tohost'));
  symlinkSync('../../../../../..', join(root, 'tmp', 'up'));
  symlinkSync('/', join(root, 'slash'));
  // The same path exists inside the container, so following the link there has a place to land.
  mkdirSync(join(root, host), { recursive: true });
  const scoped = ScopedRoot.open(root);
  afterAll(() => scoped.close());

  const put = async (entries: Parameters<typeof packTar>[0], path = '/tmp') =>
    extractArchive(scoped, path, 'c1', await packTar(entries), { noOverwriteDirNonDir: true, copyUidGid: false });

  it('writes through in-container symlinks inside the root, never to the host', async () => {
    await put([{ header: { name: 'tohost/planted' }, content: 'x' }, { header: { name: 'up/tmp/viaup' }, content: 'y' }]);
    await put([{ header: { name: 'dropped' }, content: 'z' }], '/slash/tmp');
    expect(readdirSync(host)).toEqual(['secret']);
    // The link's absolute target was followed from the container's root.
    expect(readFileSync(join(root, host, 'planted'), 'utf8')).toBe('x');
    expect(readFileSync(join(root, 'tmp', 'viaup'), 'utf8')).toBe('y');
    expect(readFileSync(join(root, 'tmp', 'dropped'), 'utf8')).toBe('z');
  });

  it('fails cleanly when a parent is a link to nowhere', async () => {
    symlinkSync('/no/such/dir', join(root, 'tmp', 'dangling'));
    await expect(put([{ header: { name: 'dangling/f' }, content: 'x' }])).rejects.toThrow(/cannot extract "dangling\/f"/);
  });

  it('refuses escaping entries before writing anything of them', async () => {
    await expect(put([{ header: { name: '../../etc/x' }, content: 'x' }])).rejects.toThrow(/refusing archive entry/);
    await expect(put([{ header: { name: 'l', type: 'symlink', linkname: '../../../x' } }])).rejects.toThrow(/outside the destination/);
    await expect(put([{ header: { name: 'h', type: 'hardlink', linkname: '../../x' } }])).rejects.toThrow(/outside the destination/);
    expect(existsSync(join(root, 'tmp', 'l'))).toBe(false);
  });

  it('does not follow a symlink planted where a file is to be written', async () => {
    symlinkSync(join(host, 'secret'), join(root, 'tmp', 'victim'));
    await put([{ header: { name: 'victim', mode: 0o600 }, content: 'overwritten' }]);
    expect(readFileSync(join(host, 'secret'), 'utf8')).toBe('HOST');
    expect(lstatSync(join(root, 'tmp', 'victim')).isFile()).toBe(true);
  });

  it('stats and archives paths as the container sees them', async () => {
    const st = statPath(scoped, '/slash/tmp/in', 'c1');
    expect(st).toMatchObject({ name: 'in', size: 6, linkTarget: '' });
    expect(statPath(scoped, '/slash', 'c1').linkTarget).toBe('/');
    expect(() => statPath(scoped, '/tmp/tohost/secret', 'c1')).toThrow('Could not find the file /tmp/tohost/secret in container c1');
    const chunks: Buffer[] = [];
    await archivePath(scoped, '/tmp/tohost', 'c1', new TarWriter(chunks), () => undefined);
    const names: string[] = [];
    for await (const e of readTar(Buffer.concat(chunks))) names.push(`${e.header.type} ${e.header.name} ${e.header.linkname}`);
    expect(names).toEqual([`symlink tohost ${host}`]);
    expect(goFileMode(lstatSync(root)) >>> 31).toBe(1);
  });
});
