import { invalidArgument, isInvalidArgument, messageOf } from '@berth/errors';

/** What dockerd 20.10 puts before every failure to read an uploaded archive (load, import, cp). */
export const UNTAR_ERROR_PREFIX = 'Error processing tar file(exit status 1): ';

const READER_PREFIX = /^(tar|gzip|bzip2|xz|zstd): /;

/**
 * A failure of the tar reader or of a decompressor (`@berth/compression`) in dockerd's words:
 * `Error processing tar file(exit status 1): unexpected EOF` for an archive cut short,
 * `... archive/tar: invalid tar header` for bytes that are not a tar header. Other errors
 * (the disk, a digest, a limit) pass through unchanged.
 */
export function asUntarError(err: unknown): unknown {
  if (!isInvalidArgument(err)) return err;
  const message = messageOf(err);
  const m = READER_PREFIX.exec(message);
  if (!m) return err;
  const detail = message.slice(m[0].length);
  let cause: string;
  if (/truncated|unexpected EOF/.test(detail)) cause = 'unexpected EOF';
  else if (m[1] === 'tar') cause = /checksum|invalid header/.test(detail) ? 'archive/tar: invalid tar header' : `archive/tar: ${detail}`;
  else cause = `${m[1]}: ${detail}`;
  return invalidArgument(`${UNTAR_ERROR_PREFIX}${cause}`, { cause: err });
}
