import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { pipeline, Readable } from 'node:stream';
import { invalidArgument } from '@berth/errors';

const MAGIC: [string, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export function detectCompression(head: Buffer): Compression {
  for (const [name, m] of MAGIC) if (head.length >= m.length && m.every((b, i) => head[i] === b)) return name as Compression;
  return 'none';
}

async function* withHead(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length) yield head;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}

/** The OS's decompressor as a stream filter (bzip2/xz/zstd have no Node implementation). */
function external(cmd: string, input: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const p = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(invalidArgument(`${cmd}: ${stderr.trim() || `exit ${code}`}`))));
  });
  void (async () => {
    try {
      for await (const c of input) if (!p.stdin.write(c)) await new Promise((r) => p.stdin.once('drain', r));
      p.stdin.end();
    } catch {
      p.kill('SIGKILL');
    }
  })();
  p.stdin.on('error', () => undefined);
  return (async function* () {
    try {
      for await (const c of p.stdout) yield c as Buffer;
      await done;
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  })();
}

/**
 * The bytes of a possibly compressed stream (gzip, bzip2, xz, zstd by their magic numbers),
 * decompressed as they are read. Kept behind this one function until a shared lib for
 * compression detection lands.
 */
export async function decompressed(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value]);
  }
  const all = withHead(head, it);
  switch (detectCompression(head)) {
    case 'gzip':
    {
      const gz = createGunzip();
      pipeline(Readable.from(all), gz, () => undefined);
      return gz as AsyncIterable<Buffer>;
    }
    case 'bzip2':
      return external('bzip2', all);
    case 'xz':
      return external('xz', all);
    case 'zstd':
      return external('zstd', all);
    default:
      return all;
  }
}
