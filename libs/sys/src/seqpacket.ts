import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { libcErrno, libcFunction } from './libc';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): sa_family_t and 108 bytes of path. */
const SOCKADDR_UN = 110;

const MSG_DONTWAIT = 0x40;
/** Larger than any packet a peer here sends (conmon's are 8 KiB and a byte). */
const MAX_PACKET = 64 * 1024;

let lib:
  | {
      socket: (d: number, t: number, p: number) => number;
      connect: (fd: number, addr: Buffer, len: number) => number;
      close: (fd: number) => number;
      recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
    }
  | undefined;

function libc() {
  lib ??= {
    socket: libcFunction('int socket(int domain, int type, int protocol)'),
    connect: libcFunction('int connect(int fd, const void *addr, uint32_t len)'),
    close: libcFunction('int close(int fd)'),
    recv: libcFunction('intptr_t recv(int fd, void *buf, uintptr_t len, int flags)'),
  };
  return lib;
}

interface PipeHandle {
  open(fd: number): number;
}
type PipeWrap = { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } };

/**
 * The packets still queued on a socket from `connectSeqpacket` when it emits 'end' (call it from
 * an 'end' listener, while the fd is open). libuv takes a read shorter than its buffer, which is
 * every read of a packet, together with the peer's hangup as the end of the stream: packets
 * behind the one it read are never read. A peer that sends its last packets and closes (conmon
 * at a container's exit) would lose them.
 */
export function drainSeqpacket(sock: Socket): Buffer[] {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  const out: Buffer[] = [];
  if (fd < 0) return out;
  for (;;) {
    const buf = Buffer.allocUnsafe(MAX_PACKET);
    const n = libc().recv(fd, buf, MAX_PACKET, MSG_DONTWAIT);
    if (n <= 0) return out;
    out.push(buf.subarray(0, n));
  }
}

/**
 * A connected SOCK_SEQPACKET unix socket as a Node stream (packets queued at the peer's hangup:
 * `drainSeqpacket`). `net` cannot open one (libuv guesses
 * its type as unknown and `new Socket({ fd })` refuses it), but libuv's pipe handle reads and
 * writes any stream-like fd with read(2)/write(2), which keep packet boundaries: each 'data'
 * chunk is one packet and each write of one buffer is one packet (writes of several buffers at
 * once, as `writev`, are one packet too: callers that care write one buffer at a time).
 */
export function connectSeqpacket(path: string, dir?: string): Socket {
  // A path longer than sun_path is reached through its folder's fd (/proc/self/fd/N/name).
  let dirFd = -1;
  let target = path;
  if (dir !== undefined) {
    dirFd = openSync(dir, 'r');
    target = `/proc/self/fd/${dirFd}/${path}`;
  }
  try {
    const name = Buffer.from(target);
    if (name.length >= SOCKADDR_UN - 2) throw new Error(`socket path too long: ${target}`);
    const addr = Buffer.alloc(SOCKADDR_UN);
    addr.writeUInt16LE(AF_UNIX, 0);
    name.copy(addr, 2);
    const fd = libc().socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) throw errnoError('socket', path);
    if (libc().connect(fd, addr, SOCKADDR_UN) !== 0) {
      const err = errnoError('connect', path);
      libc().close(fd);
      throw err;
    }
    // pipe_wrap is on process.binding's allow-list; it is the only way to give libuv this fd.
    const { Pipe, constants } = (process as unknown as { binding(name: 'pipe_wrap'): PipeWrap }).binding('pipe_wrap');
    const handle = new Pipe(constants.SOCKET);
    const rc = handle.open(fd);
    if (rc !== 0) {
      libc().close(fd);
      throw new Error(`seqpacket ${path}: cannot open the socket's handle (${rc})`);
    }
    return new Socket({ handle, readable: true, writable: true } as unknown as ConstructorParameters<typeof Socket>[0]);
  } finally {
    if (dirFd >= 0) closeSync(dirFd);
  }
}

function errnoError(call: string, path: string): NodeJS.ErrnoException {
  const errno = libcErrno();
  const codes: Record<number, string> = { 2: 'ENOENT', 13: 'EACCES', 111: 'ECONNREFUSED', 11: 'EAGAIN' };
  const err = new Error(`${call} ${path}: errno ${errno}`) as NodeJS.ErrnoException;
  err.errno = errno;
  err.code = codes[errno] ?? `E${errno}`;
  return err;
}
