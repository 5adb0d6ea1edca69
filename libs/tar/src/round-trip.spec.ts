import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isFailedPrecondition, isInvalidArgument } from '@berth/errors';
import { packTar, readTar, TarWriter, type TarContent, type TarHeader, type TarHeaderInput } from './index';

/** Feeds an archive in awkward slices so headers and content straddle chunk boundaries. */
async function* sliced(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(buf: Buffer, chunk = 7): Promise<{ header: TarHeader; data: Buffer }[]> {
  const out: { header: TarHeader; data: Buffer }[] = [];
  for await (const entry of readTar(sliced(buf, chunk))) out.push({ header: entry.header, data: await entry.bytes() });
  return out;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

const pack = (...entries: [TarHeaderInput, TarContent?][]) => packTar(entries.map(([header, content]) => ({ header, content })));

describe('TarWriter + readTar round trip', () => {
  it('keeps every field of every entry type', async () => {
    const tar = await pack(
      [{ name: 'etc', type: 'directory', mode: 0o755, mtimeSeconds: 1_704_067_200 }],
      [{ name: 'etc/passwd', mode: 0o644, uid: 1000, gid: 100, uname: 'me', gname: 'users', mtimeSeconds: 42 }, 'root:x:0:0\n'],
      [{ name: 'tmp', type: 'directory', mode: 0o1777 }],
      [{ name: 'bin/sh', type: 'symlink', linkname: 'busybox' }],
      [{ name: 'etc/passwd-', type: 'hardlink', linkname: 'etc/passwd' }],
      [{ name: 'dev/null', type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 }],
      [{ name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 }],
      [{ name: 'run/fifo', type: 'fifo', mode: 0o600 }],
      [{ name: 'sbin/su', mode: 0o4755 }, Buffer.from([0, 1, 2, 255])],
    );
    const got = await readAll(tar);
    expect(got.map((e) => [e.header.name, e.header.type, e.header.typeflag])).toEqual([
      ['etc/', 'directory', '5'],
      ['etc/passwd', 'file', '0'],
      ['tmp/', 'directory', '5'],
      ['bin/sh', 'symlink', '2'],
      ['etc/passwd-', 'hardlink', '1'],
      ['dev/null', 'char-device', '3'],
      ['dev/sda', 'block-device', '4'],
      ['run/fifo', 'fifo', '6'],
      ['sbin/su', 'file', '0'],
    ]);
    expect(got[1]!.header).toMatchObject({ mode: 0o644, uid: 1000, gid: 100, uname: 'me', gname: 'users', mtimeSeconds: 42, size: 11 });
    expect(got[1]!.data.toString()).toBe('root:x:0:0\n');
    expect(got[0]!.header.mtimeSeconds).toBe(1_704_067_200);
    expect(got[2]!.header.mode).toBe(0o1777);
    expect(got[3]!.header).toMatchObject({ linkname: 'busybox', mode: 0o777, size: 0 });
    expect(got[4]!.header).toMatchObject({ linkname: 'etc/passwd', size: 0 });
    expect(got[5]!.header).toMatchObject({ devmajor: 1, devminor: 3, mode: 0o666 });
    expect(got[8]!.header.mode).toBe(0o4755);
    expect([...got[8]!.data]).toEqual([0, 1, 2, 255]);
    // No PAX header was needed: every value fit ustar.
    expect(tar.length).toBe(512 * (9 + 2) + 1024);
  });

  it('carries long and non-ASCII names and link targets through PAX', async () => {
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}/${'g'.repeat(90)}.txt`;
    const huge = `${'x/'.repeat(200)}end`;
    const target = `../${'t'.repeat(150)}`;
    const tar = await pack(
      [{ name: deep }, 'deep'],
      [{ name: huge }, 'huge'],
      [{ name: 'héllo/wörld.txt' }, 'utf8'],
      [{ name: 'long-link', type: 'symlink', linkname: target }],
      [{ name: 'u', uname: 'a-user-name-longer-than-thirty-two-bytes' }],
    );
    const got = await readAll(tar, 100);
    expect(got.map((e) => e.header.name)).toEqual([deep, huge, 'héllo/wörld.txt', 'long-link', 'u']);
    expect(got.map((e) => e.data.toString())).toEqual(['deep', 'huge', 'utf8', '', '']);
    expect(got[3]!.header.linkname).toBe(target);
    expect(got[4]!.header.uname).toBe('a-user-name-longer-than-thirty-two-bytes');
    // Standard records are folded into fields, never echoed in `pax`.
    for (const e of got) expect(e.header.pax).toEqual({});
  });

  it('splits a 101..256-byte ASCII name into ustar prefix and name instead of using PAX', async () => {
    const name = `${'p'.repeat(120)}/${'n'.repeat(90)}`;
    const tar = await pack([{ name }, 'x']);
    expect(tar.includes(Buffer.from('PaxHeaders'))).toBe(false);
    expect((await readAll(tar))[0]!.header.name).toBe(name);
  });

  it('keeps ids, sizes and times that do not fit ustar, and binary xattrs', async () => {
    const capability = String.fromCharCode(0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80);
    const tar = await pack(
      [{ name: 'big-ids', uid: 2 ** 31, gid: 3_000_000, mtimeSeconds: 1.5 }, ''],
      [{ name: 'old', mtimeSeconds: -86_400 }, ''],
      [{ name: 'cap', pax: { 'SCHILY.xattr.security.capability': capability, 'SCHILY.xattr.user.note': 'ok' } }, ''],
    );
    const got = await readAll(tar);
    expect(got[0]!.header).toMatchObject({ uid: 2 ** 31, gid: 3_000_000, mtimeSeconds: 1.5 });
    expect(got[1]!.header.mtimeSeconds).toBe(-86_400);
    expect(got[2]!.header.pax).toEqual({ 'SCHILY.xattr.security.capability': capability, 'SCHILY.xattr.user.note': 'ok' });
    expect([...Buffer.from(got[2]!.header.pax['SCHILY.xattr.security.capability']!, 'latin1')]).toEqual([1, 0, 0, 2, 255, 254, 128]);
  });

  it('writes a size beyond the 8 GiB octal limit as a PAX record', async () => {
    // The content is never produced: the header alone shows the record, and the reader's
    // view of it is checked by breaking off before the content.
    const chunks: Buffer[] = [];
    const w = new TarWriter(chunks);
    const size = 2 ** 34 + 5;
    const pending = w.add({ name: 'huge.img', size }, (async function* () {})());
    await expect(pending).rejects.toSatisfy(isInvalidArgument);
    const archive = Buffer.concat(chunks);
    expect(archive.toString('latin1')).toContain(`size=${size}\n`);
    for await (const entry of readTar([archive])) {
      expect(entry.header.size).toBe(size);
      break;
    }
  });

  it('is byte-for-byte deterministic: same input, same output, no clock or process ids', async () => {
    const make = () =>
      pack([{ name: 'a', pax: { 'SCHILY.xattr.b': '2', 'SCHILY.xattr.a': '1' } }, 'a'], [{ name: `${'z'.repeat(300)}` }, 'z']);
    const [one, two] = [await make(), await make()];
    expect(one.equals(two)).toBe(true);
    // PAX records are sorted by key whatever order the caller gave them in.
    const text = one.toString('latin1');
    expect(text.indexOf('SCHILY.xattr.a=1')).toBeLessThan(text.indexOf('SCHILY.xattr.b=2'));
  });

  it('copies an archive through unchanged (reader headers are writer input)', async () => {
    const original = await pack(
      [{ name: 'd', type: 'directory', mtimeSeconds: 7 }],
      [{ name: `d/${'q'.repeat(200)}`, uid: 5, mtimeSeconds: 9, pax: { 'SCHILY.xattr.user.x': 'y' } }, 'content'],
      [{ name: 'd/l', type: 'symlink', linkname: 'q' }],
    );
    const copy: Buffer[] = [];
    const w = new TarWriter(copy);
    for await (const entry of readTar([original])) await w.add(entry.header, entry.header.type === 'file' ? entry.content : undefined);
    await w.finish();
    expect(Buffer.concat(copy).equals(original)).toBe(true);
  });

  it('streams content of a declared size and refuses content of another length', async () => {
    const chunks: Buffer[] = [];
    const w = new TarWriter(chunks);
    async function* parts() {
      yield Buffer.from('abc');
      yield new Uint8Array([0x64, 0x65]);
    }
    await w.add({ name: 'streamed', size: 5 }, parts());
    await w.finish();
    expect((await readAll(Buffer.concat(chunks)))[0]!.data.toString()).toBe('abcde');

    const short = new TarWriter([]);
    await expect(short.add({ name: 's', size: 6 }, parts())).rejects.toThrow(/shorter than its size 6/);
    // The archive is broken after that, so the writer refuses to go on.
    expect(() => short.add({ name: 'next' }, '')).toThrow(/after a failed write/);
    await expect(new TarWriter([]).add({ name: 'l', size: 4 }, parts())).rejects.toThrow(/longer/);
  });

  it('checks headers synchronously', () => {
    const w = new TarWriter([]);
    expect(() => w.add({ name: '' })).toThrow(/empty/);
    expect(() => w.add({ name: 'x', type: 'symlink' })).toThrow(/needs a linkname/);
    expect(() => w.add({ name: 'x', type: 'directory' }, 'data')).toThrow(/only files have content/);
    expect(() => w.add({ name: 'x', mode: 0o10000 })).toThrow(/mode/);
    expect(() => w.add({ name: 'x', uid: -1 })).toThrow(/uid/);
    expect(() => w.add({ name: 'x', size: 3 }, 'four')).toThrow(/size 3 but has 4/);
    expect(() => w.add({ name: 'x', size: 3 }, [Buffer.from('abc')])).not.toThrow();
    expect(() => w.add({ name: 'y' }, 'busy')).toThrow(/still writing/);
    expect(() => new TarWriter([]).add({ name: 'x', pax: { path: 'y' } })).toThrow(/set through its header field/);
    expect(() => new TarWriter([]).add({ name: 'x' }, (async function* () {})())).toThrow(/needs a size/);
    expect(isInvalidArgument(thrown(() => new TarWriter([]).add({ name: 'x', devmajor: 2 ** 24 })))).toBe(true);
  });

  it('finish() writes the two-block end marker once and refuses later adds', async () => {
    const chunks: Buffer[] = [];
    const w = new TarWriter(chunks);
    await Promise.all([w.finish(), w.finish()]);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(1024))).toBe(true);
    const err = thrown(() => w.add({ name: 'late' }, ''));
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/after finish/);
    expect(isFailedPrecondition(err)).toBe(true);
  });

  it('waits for a slow Writable to drain instead of buffering the archive', async () => {
    const received: Buffer[] = [];
    let maxQueued = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        maxQueued = Math.max(maxQueued, slow.writableLength);
        received.push(chunk);
        setTimeout(done, 1);
      },
    });
    const w = new TarWriter(slow);
    const blob = Buffer.alloc(64 * 1024, 7);
    const pieces = Array.from({ length: 64 }, (_, i) => blob.subarray(i * 1024, (i + 1) * 1024));
    await w.add({ name: 'blob', size: blob.length }, pieces);
    await w.finish();
    expect(slow.writableFinished).toBe(true);
    // Had the writer ignored write() === false, all 64 KiB would have queued at once.
    expect(maxQueued).toBeLessThanOrEqual(2048);
    const got = await readAll(Buffer.concat(received), 4096);
    expect(got[0]!.data.equals(blob)).toBe(true);
  });

  it('leaves a stream sink open with endStream: false', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const w = new TarWriter(sink, { endStream: false });
    await w.add({ name: 'a' }, 'a');
    await w.finish();
    expect(sink.writableEnded).toBe(false);
    sink.end();
  });

  it('rejects add() when the stream sink is gone', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    sink.destroy();
    await expect(new TarWriter(sink).add({ name: 'a' }, 'a')).rejects.toThrow(/closed/);
  });
});
