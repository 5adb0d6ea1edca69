import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar, TarWriter, type TarHeader } from './index';

// Interop with GNU tar, the reference every other tool is measured against: what we write it
// must list and extract exactly, and what it writes (in each of its formats) we must read.

const work = mkdtempSync(join(tmpdir(), 'berth-tar-gnu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const gnuTar = (...args: string[]) => execFileSync('tar', args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
const JAN_2024 = 1_704_067_200;
const deepName = `root/${'deep-directory-name/'.repeat(14)}file.txt`;
const longTarget = `../${'t'.repeat(150)}`;
const bigContent = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 31) & 0xff));

describe('GNU tar reads what TarWriter writes', () => {
  const archive = join(work, 'ours.tar');

  beforeAll(async () => {
    const w = new TarWriter(createWriteStream(archive));
    await w.add({ name: 'root', type: 'directory', mode: 0o755, mtimeSeconds: JAN_2024 });
    await w.add({ name: 'root/hello.txt', mode: 0o640, uid: 1234, gid: 4321, mtimeSeconds: JAN_2024 }, 'hello\n');
    await w.add({ name: 'root/tmp', type: 'directory', mode: 0o1777, mtimeSeconds: JAN_2024 });
    await w.add({ name: deepName, mtimeSeconds: JAN_2024 }, 'deep\n');
    await w.add({ name: 'root/ünïcødé.txt', mtimeSeconds: JAN_2024 }, 'utf8\n');
    await w.add({ name: 'root/link', type: 'symlink', linkname: 'hello.txt', mtimeSeconds: JAN_2024 });
    await w.add({ name: 'root/far-link', type: 'symlink', linkname: longTarget, mtimeSeconds: JAN_2024 });
    await w.add({ name: 'root/hard', type: 'hardlink', linkname: 'root/hello.txt', mtimeSeconds: JAN_2024 });
    await w.add({ name: 'root/fifo', type: 'fifo', mode: 0o600, mtimeSeconds: JAN_2024 });
    await w.add({ name: 'root/fraction', mtimeSeconds: JAN_2024 + 0.25 }, '');
    await w.add({ name: 'root/big.bin', size: bigContent.length, mtimeSeconds: JAN_2024 }, chunksOf(bigContent, 100_000));
    await w.add({ name: 'dev/null', type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 });
    await w.finish();
  });

  it('lists every member with the right type', () => {
    const listing = gnuTar('--numeric-owner', '-tvf', archive).toString('utf8').trim().split('\n');
    expect(listing).toHaveLength(12);
    expect(listing[1]).toMatch(/^-rw-r----- 1234\/4321\s+6 2024-01-01 00:00 root\/hello.txt$/);
    expect(listing[2]).toMatch(/^drwxrwxrwt 0\/0 .* root\/tmp\/$/);
    expect(listing[3]).toMatch(new RegExp(`${deepName.replace(/\./g, '\\.')}$`));
    expect(listing[5]).toMatch(/^lrwxrwxrwx .* root\/link -> hello\.txt$/);
    expect(listing[6]).toContain(`root/far-link -> ${longTarget}`);
    expect(listing[7]).toMatch(/^hrw-r--r-- .* root\/hard link to root\/hello\.txt$/);
    expect(listing[8]).toMatch(/^prw------- /);
    expect(listing[11]).toMatch(/^crw-rw-rw- 0\/0\s+1,3 .* dev\/null$/);
  });

  it('extracts files, modes, owners, times and links exactly', () => {
    const out = join(work, 'extract-ours');
    mkdirSync(out);
    gnuTar('-xf', archive, '-C', out, '--exclude=dev/*', '--exclude=dev', '--same-owner', '--same-permissions');
    const at = (p: string) => join(out, p);
    expect(readFileSync(at('root/hello.txt'), 'utf8')).toBe('hello\n');
    expect(lstatSync(at('root/hello.txt'))).toMatchObject({ mode: 0o100640, mtimeMs: JAN_2024 * 1000 });
    if (process.getuid?.() === 0) expect(lstatSync(at('root/hello.txt'))).toMatchObject({ uid: 1234, gid: 4321 });
    expect(lstatSync(at('root/tmp')).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(at(deepName), 'utf8')).toBe('deep\n');
    expect(readFileSync(at('root/ünïcødé.txt'), 'utf8')).toBe('utf8\n');
    expect(readlinkSync(at('root/link'))).toBe('hello.txt');
    expect(readlinkSync(at('root/far-link'))).toBe(longTarget);
    expect(lstatSync(at('root/hard')).ino).toBe(lstatSync(at('root/hello.txt')).ino);
    expect(lstatSync(at('root/fifo')).isFIFO()).toBe(true);
    expect(lstatSync(at('root/fraction')).mtimeMs).toBe((JAN_2024 + 0.25) * 1000);
    expect(readFileSync(at('root/big.bin')).equals(bigContent)).toBe(true);
  });
});

describe('readTar reads what GNU tar writes', () => {
  const src = join(work, 'src');
  const longName = `${'n'.repeat(120)}.txt`;

  beforeAll(() => {
    mkdirSync(join(src, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(src, 'dir', 'a.txt'), 'hello');
    writeFileSync(join(src, 'dir', 'sub', 'empty'), '');
    writeFileSync(join(src, longName), 'long');
    writeFileSync(join(src, 'big.bin'), bigContent);
    symlinkSync('dir/a.txt', join(src, 'link'));
    symlinkSync(longTarget, join(src, 'far-link'));
    linkSync(join(src, 'dir', 'a.txt'), join(src, 'hard'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    for (const p of ['dir/a.txt', 'dir/sub/empty', 'dir/sub', 'dir', longName, 'big.bin', 'fifo']) utimesSync(join(src, p), JAN_2024, JAN_2024);
  });

  for (const format of ['gnu', 'oldgnu', 'posix', 'ustar']) {
    it(`reads --format=${format}`, async () => {
      const archive = join(work, `${format}.tar`);
      // ustar cannot hold the long names, so that format gets the short-named members only.
      const members = format === 'ustar' ? ['big.bin', 'dir', 'fifo', 'hard', 'link'] : ['.'];
      gnuTar(`--format=${format}`, '--sort=name', '--owner=builder:7', '--group=staff:8', '-cf', archive, '-C', src, ...members);
      const entries = new Map<string, { header: TarHeader; data: Buffer }>();
      for await (const e of readTar(createReadStream(archive, { highWaterMark: 1000 }))) {
        entries.set(e.header.name.replace(/^\.\//, ''), { header: e.header, data: await e.bytes() });
      }
      const get = (name: string) => {
        const e = entries.get(name);
        if (!e) throw new Error(`${name} missing from ${[...entries.keys()].join(', ')}`);
        return e;
      };
      expect(get('dir/').header).toMatchObject({ type: 'directory', mtimeSeconds: JAN_2024, uid: 7, gid: 8, uname: 'builder', gname: 'staff' });
      expect(get('dir/a.txt').data.toString()).toBe('hello');
      expect(get('dir/a.txt').header).toMatchObject({ type: 'file', size: 5, mode: lstatSync(join(src, 'dir/a.txt')).mode & 0o7777 });
      expect(get('big.bin').data.equals(bigContent)).toBe(true);
      expect(get('link').header).toMatchObject({ type: 'symlink', linkname: 'dir/a.txt' });
      expect(get('fifo').header.type).toBe('fifo');
      // GNU tar archives the second name of a hardlinked file as a link to the first one.
      const linked = [get('hard'), get('dir/a.txt')].find((e) => e.header.type === 'hardlink');
      expect(linked?.header.linkname.replace(/^\.\//, '')).toMatch(/^(dir\/a\.txt|hard)$/);
      if (format !== 'ustar') {
        expect(get(longName).data.toString()).toBe('long');
        expect(get('far-link').header.linkname).toBe(longTarget);
        expect(get('dir/sub/empty').header.size).toBe(0);
      }
    });
  }

  it('applies PAX global headers to every later entry', async () => {
    const archive = join(work, 'global.tar');
    gnuTar('--format=posix', '--pax-option=comment=made-by-gnu-tar', '--sort=name', '-cf', archive, '-C', src, 'dir');
    const seen: Record<string, string>[] = [];
    for await (const e of readTar(createReadStream(archive))) seen.push(e.header.pax);
    expect(seen.length).toBeGreaterThan(2);
    for (const pax of seen) expect(pax.comment).toBe('made-by-gnu-tar');
  });

  it('passes GNU sparse members through as type other', async () => {
    const sparse = join(work, 'sparse-src');
    mkdirSync(sparse);
    execFileSync('truncate', ['-s', '10M', join(sparse, 'holes')]);
    writeFileSync(join(sparse, 'after'), 'after');
    const archive = join(work, 'sparse.tar');
    gnuTar('--format=gnu', '--sparse', '--sort=name', '-cf', archive, '-C', sparse, 'holes', 'after');
    const seen: [string, string, string][] = [];
    for await (const e of readTar(createReadStream(archive))) seen.push([e.header.name, e.header.type, e.header.typeflag]);
    expect(seen).toEqual([
      ['holes', 'other', 'S'],
      ['after', 'file', '0'],
    ]);
  });
});

function* chunksOf(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
