import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress } from './decompress';
import { detectCompression } from './detect';

const PLAIN = Buffer.from('hello, archive\n'.repeat(1000));
const tool = (cmd: string, args: string[], input: Buffer) => execFileSync(cmd, args, { input, maxBuffer: 64 << 20 });
const COMPRESSED: Record<string, Buffer> = {
  gzip: gzipSync(PLAIN),
  bzip2: tool('bzip2', ['-c'], PLAIN),
  xz: tool('xz', ['-c'], PLAIN),
  zstd: tool('zstd', ['-c', '-q'], PLAIN),
};

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out);
}

/** The input in small chunks, so magic bytes and streams are split across reads. */
async function* chunked(b: Buffer, size = 3): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('detectCompression', () => {
  it('tells each format by its magic bytes', () => {
    for (const [name, bytes] of Object.entries(COMPRESSED)) expect(detectCompression(bytes.subarray(0, 6))).toBe(name);
    expect(detectCompression(PLAIN)).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
  });
});

describe('decompress', () => {
  for (const [name, bytes] of Object.entries(COMPRESSED)) {
    it(`reads ${name} in small chunks and reports what it saw`, async () => {
      let seen = '';
      expect(await collect(decompress(chunked(bytes, 5), { onDetect: (c) => (seen = c) }))).toEqual(PLAIN);
      expect(seen).toBe(name);
    });

    it(`fails a truncated ${name} stream with unexpected EOF`, async () => {
      await expect(collect(decompress(chunked(bytes.subarray(0, Math.floor(bytes.length / 2)), 64)))).rejects.toThrow(`${name}: unexpected EOF`);
    });

    it(`stops ${name} output past the limit`, async () => {
      await expect(collect(decompress(chunked(bytes, 64), { maxOutputBytes: 1000 }))).rejects.toThrow(/expands to more than 1000 bytes/);
    });
  }

  it('passes plain input through, including empty and tiny input', async () => {
    expect(await collect(decompress(chunked(PLAIN)))).toEqual(PLAIN);
    expect((await collect(decompress(chunked(Buffer.alloc(0))))).length).toBe(0);
    expect(await collect(decompress(chunked(Buffer.from('ab'))))).toEqual(Buffer.from('ab'));
  });

  it('names the format of a corrupt stream', async () => {
    const bad = Buffer.concat([COMPRESSED.xz!.subarray(0, 12), Buffer.alloc(200, 0x55)]);
    await expect(collect(decompress(chunked(bad, 50)))).rejects.toThrow(/^xz: /);
    const badGz = Buffer.concat([COMPRESSED.gzip!.subarray(0, 10), Buffer.alloc(200, 0x55)]);
    await expect(collect(decompress(chunked(badGz, 50)))).rejects.toThrow(/^gzip: /);
  });

  it('kills the decompressor when the consumer stops early, and ends the source', async () => {
    const big = tool('zstd', ['-c', '-q'], Buffer.alloc(64 << 20));
    let sourceClosed = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        yield* chunked(big, 4096);
      } finally {
        sourceClosed = true;
      }
    }
    for await (const chunk of decompress(source())) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(sourceClosed).toBe(true);
  });

  it('passes a source failure through', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield COMPRESSED.bzip2!.subarray(0, 100);
      throw new Error('client went away');
    }
    await expect(collect(decompress(failing()))).rejects.toThrow('client went away');
  });
});
