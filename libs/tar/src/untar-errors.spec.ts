import { describe, expect, it } from 'vitest';
import { invalidArgument, failedPrecondition, messageOf } from '@berth/errors';
import { readTar } from './reader';
import { asUntarError } from './untar-errors';

async function failureOf(bytes: Buffer): Promise<string> {
  try {
    for await (const e of readTar(bytes)) void e;
  } catch (err) {
    return messageOf(asUntarError(err));
  }
  return 'no error';
}

describe('asUntarError', () => {
  it("words reader failures as dockerd's untar does", async () => {
    expect(await failureOf(Buffer.from('garbage'))).toBe('Error processing tar file(exit status 1): unexpected EOF');
    expect(await failureOf(Buffer.alloc(1024, 0x41))).toBe('Error processing tar file(exit status 1): archive/tar: invalid tar header');
    expect(messageOf(asUntarError(invalidArgument('xz: unexpected EOF')))).toBe('Error processing tar file(exit status 1): unexpected EOF');
    expect(messageOf(asUntarError(invalidArgument('gzip: invalid header')))).toBe('Error processing tar file(exit status 1): gzip: invalid header');
  });

  it('leaves other errors alone', () => {
    const e = failedPrecondition('digest mismatch');
    expect(asUntarError(e)).toBe(e);
    const limit = invalidArgument('the archive expands to more than 10 bytes');
    expect(asUntarError(limit)).toBe(limit);
  });
});
