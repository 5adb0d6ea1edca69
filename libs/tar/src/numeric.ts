import { invalidArgument } from '@berth/errors';

/** Largest value a NUL-terminated octal field of `width` bytes can hold. */
export function octalLimit(width: number): number {
  return 8 ** (width - 1) - 1;
}

/**
 * Writes `value` as width-1 zero-padded octal digits and a NUL. GNU tar and Go both lay numbers
 * out this way, so an archive's bytes do not depend on which of them wrote the reference copy.
 * The caller has checked that the value fits.
 */
export function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'latin1');
  block[offset + width - 1] = 0;
}

/**
 * Reads a numeric field, octal or GNU base-256 (high bit of the first byte set, used by GNU tar
 * and Go for values octal cannot hold, negative mtimes included). Values outside JavaScript's
 * safe integers are refused rather than rounded.
 */
export function readNumeric(block: Buffer, offset: number, width: number, field: string): number {
  const first = block[offset]!;
  if (first & 0x80) {
    let value = BigInt(first & 0x7f);
    for (let i = 1; i < width; i++) value = (value << 8n) | BigInt(block[offset + i]!);
    // Bit 0x40 of the first byte is the sign of a two's complement number of 8*width-1 bits.
    if (first & 0x40) value -= 1n << BigInt(width * 8 - 1);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw invalidArgument(`tar: ${field} field overflows`);
    }
    return Number(value);
  }
  const text = block
    .toString('latin1', offset, offset + width)
    .replace(/^[ \0]+/, '')
    .replace(/[ \0]+$/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalidArgument(`tar: invalid ${field} field ${JSON.stringify(text)}`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw invalidArgument(`tar: ${field} field overflows`);
  return value;
}
