import { libcFunction } from './libc';

const TIOCSWINSZ = 0x5414;

let lib: { openpty: (m: Int32Array, s: Int32Array, n: null, t: null, w: Buffer | null) => number; ioctl: (fd: number, req: number, arg: Buffer) => number } | undefined;

function libc() {
  if (!lib) {
    lib = {
      openpty: libcFunction('int openpty(_Out_ int *amaster, _Out_ int *aslave, void *name, void *termp, void *winp)'),
      ioctl: libcFunction('int ioctl(int fd, unsigned long request, void *arg)'),
    };
  }
  return lib;
}

function winsize(rows: number, cols: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(rows, 0);
  b.writeUInt16LE(cols, 2);
  return b;
}

/** A new pseudo-terminal pair; the caller owns and closes both fds. */
export function openpty(rows = 24, cols = 80): { master: number; slave: number } {
  const m = new Int32Array(1);
  const s = new Int32Array(1);
  if (libc().openpty(m, s, null, null, winsize(rows, cols)) !== 0) throw new Error('openpty failed');
  return { master: m[0]!, slave: s[0]! };
}

/** Sets a terminal's window size (the kernel tells the foreground process group with SIGWINCH). */
export function setWinsize(fd: number, rows: number, cols: number): void {
  if (libc().ioctl(fd, TIOCSWINSZ, winsize(rows, cols)) !== 0) throw new Error('TIOCSWINSZ failed');
}
