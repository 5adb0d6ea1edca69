/** The compressions Docker recognises on an uploaded archive (moby's DetectCompression). */
export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Enough leading bytes to tell every supported format apart (xz has the longest magic). */
export const COMPRESSION_MAGIC_BYTES = 6;

const MAGIC: readonly [Exclude<Compression, 'none'>, readonly number[]][] = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/**
 * The compression of a stream from its first bytes (at least COMPRESSION_MAGIC_BYTES of them,
 * or all there are). Anything else, a plain tar included, is 'none'.
 */
export function detectCompression(head: Uint8Array): Compression {
  for (const [name, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return name;
  }
  return 'none';
}
