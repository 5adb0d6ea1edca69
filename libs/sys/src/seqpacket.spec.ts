import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { libcFunction } from './libc';
import { connectSeqpacket, drainSeqpacket } from './seqpacket';

const socket = libcFunction('int socket(int, int, int)');
const bind = libcFunction('int bind(int, const void *, uint32_t)');
const listen = libcFunction('int listen(int, int)');
const accept = libcFunction('int accept(int, void *, void *)');
const send = libcFunction('intptr_t send(int, const void *, uintptr_t, int)');
const recv = libcFunction('intptr_t recv(int, void *, uintptr_t, int)');
const close = libcFunction('int close(int)');

const dirs: string[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) close(fd);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A listening SOCK_SEQPACKET socket named `name` in a new folder, as conmon's attach socket is. */
function server(name: string): { dir: string; fd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'seqp-'));
  dirs.push(dir);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1, 0);
  addr.write(join(dir, name), 2);
  const fd = socket(1, 5, 0) as number;
  fds.push(fd);
  expect(bind(fd, addr, 110)).toBe(0);
  expect(listen(fd, 4)).toBe(0);
  return { dir, fd };
}

describe('connectSeqpacket', () => {
  it('keeps packet boundaries both ways and shuts down writing on end()', async () => {
    const s = server('attach');
    const sock = connectSeqpacket('attach', s.dir);
    const peer = accept(s.fd, null, null) as number;
    fds.push(peer);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    for (const p of ['\x01one', '\x02two', `\x01${'x'.repeat(9000)}`]) send(peer, Buffer.from(p), Buffer.byteLength(p), 0);
    await new Promise<void>((r) => {
      const t = setInterval(() => got.length >= 3 && (clearInterval(t), r()), 10);
    });
    expect(got.map((b) => [b[0], b.length])).toEqual([[1, 4], [2, 4], [1, 9001]]);
    await new Promise<void>((r) => sock.write(Buffer.from('abc'), () => r()));
    await new Promise<void>((r) => sock.write(Buffer.from('defg'), () => r()));
    const buf = Buffer.alloc(100);
    expect(recv(peer, buf, 100, 0)).toBe(3);
    expect(recv(peer, buf, 100, 0)).toBe(4);
    sock.end();
    await new Promise((r) => setTimeout(r, 50));
    expect(recv(peer, buf, 100, 0)).toBe(0);
    sock.destroy();
  });

  it('packets queued when the peer hangs up are read at the end, in order', async () => {
    const s = server('attach');
    const sock = connectSeqpacket('attach', s.dir);
    const peer = accept(s.fd, null, null) as number;
    const got: string[] = [];
    sock.on('data', (d: Buffer) => got.push(d.toString()));
    const ended = new Promise<void>((r) =>
      sock.on('end', () => {
        for (const p of drainSeqpacket(sock)) got.push(p.toString());
        r();
      }),
    );
    // All sent and the peer gone before this process reads any: libuv alone reads only the first.
    for (const p of ['one', 'two', 'three', 'x'.repeat(9000)]) send(peer, Buffer.from(p), Buffer.byteLength(p), 0);
    close(peer);
    await ended;
    expect(got).toEqual(['one', 'two', 'three', 'x'.repeat(9000)]);
    expect(drainSeqpacket(sock)).toEqual([]);
    sock.destroy();
  });

  it('fails with the errno code when nothing listens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqp-'));
    dirs.push(dir);
    expect(() => connectSeqpacket('attach', dir)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
