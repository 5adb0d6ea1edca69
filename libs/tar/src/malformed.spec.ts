import { describe, expect, it } from 'vitest';
import { isFailedPrecondition, isInvalidArgument } from '@berth/errors';
import { packTar, readTar, type TarSource } from './index';

async function names(source: TarSource, options = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of readTar(source, options)) {
    await entry.bytes();
    out.push(entry.header.name);
  }
  return out;
}

/** Rewrites a header field and fixes the checksum, to build archives no sane writer makes. */
function patchHeader(archive: Buffer, blockOffset: number, fieldOffset: number, bytes: number[] | string): Buffer {
  const out = Buffer.from(archive);
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  data.copy(out, blockOffset + fieldOffset);
  out.fill(0x20, blockOffset + 148, blockOffset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[blockOffset + i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\0`, blockOffset + 148, 'latin1');
  return out;
}

const simple = () =>
  packTar([
    { header: { name: 'a.txt' }, content: 'x'.repeat(2000) },
    { header: { name: 'b.txt' }, content: 'b' },
  ]);

describe('readTar on malformed input', () => {
  it('reports a bad header checksum with the offset, as InvalidArgument', async () => {
    const bad = await simple();
    bad[2563] = bad[2563]! ^ 0xff; // inside b.txt's header (a.txt takes 1 + 4 blocks)
    const err = await names(bad).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toBe('tar: invalid header checksum at offset 2560 (not a tar archive, or corrupted)');
  });

  it('refuses random bytes', async () => {
    await expect(names(Buffer.from('this is not a tar archive at all'.repeat(20)))).rejects.toThrow(/invalid header checksum at offset 0/);
  });

  it('refuses a truncated archive, inside content or inside a header', async () => {
    const whole = await simple();
    await expect(names(whole.subarray(0, 1024))).rejects.toThrow(/truncated: it ends inside the content of a.txt/);
    await expect(names(whole.subarray(0, 2560 + 100))).rejects.toThrow(/truncated: it ends inside a header/);
  });

  it('accepts an archive that stops cleanly between entries without the end marker, as Go does', async () => {
    const whole = await simple();
    expect(await names(whole.subarray(0, 2560))).toEqual(['a.txt']);
    expect(await names(whole.subarray(0, whole.length - 1024))).toEqual(['a.txt', 'b.txt']);
  });

  it('refuses a negative size (GNU base-256) and a size beyond safe integers', async () => {
    const whole = await simple();
    const negative = patchHeader(whole, 0, 124, [0xff, ...Array<number>(11).fill(0xff)]);
    await expect(names(negative)).rejects.toThrow(/negative size/);
    const overflow = patchHeader(whole, 0, 124, [0x80, 0x7f, ...Array<number>(10).fill(0xff)]);
    await expect(names(overflow)).rejects.toThrow(/size field overflows/);
    const garbage = patchHeader(whole, 0, 124, '12345678z01\0');
    await expect(names(garbage)).rejects.toThrow(/invalid size field/);
  });

  it('refuses PAX records that lie about their length or value', async () => {
    const withPax = await packTar([{ header: { name: 'p'.repeat(300) }, content: 'x' }]);
    const text = withPax.toString('latin1');
    const at = text.indexOf(' path=');
    const broken = Buffer.from(withPax);
    broken.write('9', at - 3, 'latin1'); // "308 path=" becomes "908 path=", past the record area
    await expect(names(broken)).rejects.toThrow(/malformed PAX record/);

    const sized = await packTar([{ header: { name: 'x', uid: 2 ** 40 }, content: '' }]);
    const uidAt = sized.toString('latin1').indexOf('uid=') + 4;
    const badUid = Buffer.from(sized);
    badUid.write('-', uidAt, 'latin1');
    await expect(names(badUid)).rejects.toThrow(/invalid PAX uid/);
  });

  it('bounds the memory an extended header may take', async () => {
    const withPax = await packTar([{ header: { name: 'p'.repeat(5000) }, content: '' }]);
    await expect(names(withPax, { maxMetadataBytes: 1024 })).rejects.toThrow(/over the 1024-byte limit/);
    expect(await names(withPax)).toEqual(['p'.repeat(5000)]);
  });

  it('refuses data after a single zero block', async () => {
    const whole = await simple();
    const b = whole.subarray(2560, 3584);
    const odd = Buffer.concat([whole.subarray(0, 2560), Buffer.alloc(512), b, Buffer.alloc(1024)]);
    await expect(names(odd)).rejects.toThrow(/data after a zero block/);
  });

  it('refuses an extended header with no entry after it', async () => {
    const withPax = await packTar([{ header: { name: 'p'.repeat(300) }, content: '' }]);
    await expect(names(withPax.subarray(0, 1024))).rejects.toThrow(/ends after an extended header/);
  });

  it('skips unread content, and refuses content read twice or too late', async () => {
    const archive = await simple();
    const seen: string[] = [];
    let first: { content: AsyncIterable<Buffer> } | undefined;
    for await (const entry of readTar(archive)) {
      seen.push(entry.header.name);
      if (!first) {
        first = entry;
        const chunks = entry.content[Symbol.asyncIterator]();
        await chunks.next();
        expect(() => entry.content[Symbol.asyncIterator]()).toThrow(/only once/);
      }
    }
    expect(seen).toEqual(['a.txt', 'b.txt']);
    const late = (() => {
      try {
        first!.content[Symbol.asyncIterator]();
      } catch (err) {
        return err;
      }
    })();
    expect(isFailedPrecondition(late)).toBe(true);
  });

  it('closes the source when the caller stops early', async () => {
    const archive = await simple();
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; i < archive.length; i += 512) yield archive.subarray(i, i + 512);
      } finally {
        closed = true;
      }
    }
    for await (const entry of readTar(source())) {
      expect(entry.header.name).toBe('a.txt');
      break;
    }
    expect(closed).toBe(true);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await expect(names(await simple(), { signal: controller.signal })).rejects.toThrow(/stop now/);
  });
});
