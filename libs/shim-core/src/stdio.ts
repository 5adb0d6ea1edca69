import { closeSync, write } from 'node:fs';
import { ReadStream } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { openpty, setWinsize } from '@berth/sys';
import type { StreamName } from '@berth/json-log';

/**
 * The stdio a runtime process gets and how the shim reads and writes it: pipes (stdout and
 * stderr apart), or a pseudo-terminal whose slave side is the runtime's stdio so that the
 * runtime sees a terminal and follows its size (SIGWINCH).
 */
export interface Stdio {
  /** For spawn(): the child's fds. */
  childStdio: ('pipe' | 'ignore' | number)[];
  /** Call after spawn: wires up the parent's ends. */
  attach(child: { stdin: Writable | null; stdout: Readable | null; stderr: Readable | null }, onData: (s: StreamName, b: Buffer) => void): Promise<void>;
  writeStdin(b: Buffer): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  close(): void;
}

export function pipeStdio(openStdin: boolean): Stdio {
  let stdin: Writable | null = null;
  return {
    childStdio: [openStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    attach(child, onData) {
      stdin = child.stdin;
      stdin?.on('error', () => undefined);
      const done = (r: Readable | null, s: StreamName) =>
        new Promise<void>((resolve) => {
          if (!r) return resolve();
          r.on('data', (b: Buffer) => onData(s, b));
          r.on('close', () => resolve());
          r.on('error', () => resolve());
        });
      return Promise.all([done(child.stdout, 'stdout'), done(child.stderr, 'stderr')]).then(() => undefined);
    },
    writeStdin(b) {
      stdin?.write(b);
    },
    closeStdin() {
      stdin?.end();
      stdin = null;
    },
    resize() {},
    close() {
      stdin?.destroy();
    },
  };
}

export function ptyStdio(rows: number, cols: number): Stdio {
  const { master, slave } = openpty(rows || 24, cols || 80);
  let closed = false;
  return {
    childStdio: [slave, slave, slave],
    attach(_child, onData) {
      closeSync(slave);
      const r = new ReadStream(master);
      return new Promise<void>((resolve) => {
        r.on('data', (b: Buffer) => onData('stdout', b));
        // EIO once every process holding the slave has gone: that is the end of output.
        r.on('error', () => resolve());
        r.on('close', () => resolve());
        r.on('end', () => resolve());
      });
    },
    writeStdin(b) {
      if (!closed) write(master, b, () => undefined);
    },
    closeStdin() {
      // A terminal has no separate stdin to close; EOT (^D) is what a shell reads as end of input.
      if (!closed) write(master, Buffer.from([4]), () => undefined);
    },
    resize(rows, cols) {
      if (!closed) setWinsize(master, rows, cols);
    },
    close() {
      closed = true;
    },
  };
}
