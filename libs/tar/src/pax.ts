import { invalidArgument } from '@berth/errors';

/**
 * PAX extended header records: "<length> <key>=<value>\n", where length counts the whole
 * record in bytes including its own digits. Values are bytes here; `paxValueToString` and
 * `paxValueFromString` decide how they map to strings.
 */
export function encodePaxRecords(records: Iterable<readonly [string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    if (key === '' || key.includes('=') || key.includes('\0')) throw invalidArgument(`tar: invalid PAX key ${JSON.stringify(key)}`);
    const body = Buffer.byteLength(` ${key}=`) + value.length + 1;
    // The length prefix counts itself, so grow it until adding its digits no longer changes it.
    let length = body + 1;
    while (body + String(length).length !== length) length = body + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`, 'utf8'), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Parses records in order; a later record for the same key wins, as POSIX says. */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    // Some writers pad the record area with NULs; nothing after the first one is a record.
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const digits = space < 0 ? '' : data.toString('latin1', pos, space);
    if (!/^[1-9][0-9]{0,15}$/.test(digits)) throw invalidArgument('tar: malformed PAX record length');
    const end = pos + Number(digits);
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) throw invalidArgument('tar: malformed PAX record');
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw invalidArgument('tar: malformed PAX record (no key)');
    out.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos = end;
  }
  return out;
}

/**
 * `SCHILY.xattr.*` values are raw bytes (file capabilities, ACLs), not text, so they map to
 * strings one char per byte (latin1) and survive a read/write round trip unchanged. Every
 * other record is UTF-8 text, as POSIX requires.
 */
function isBinary(key: string): boolean {
  return key.startsWith('SCHILY.xattr.');
}

export function paxValueToString(key: string, value: Buffer): string {
  return value.toString(isBinary(key) ? 'latin1' : 'utf8');
}

export function paxValueFromString(key: string, value: string): Buffer {
  if (isBinary(key) && /[^\x00-\xff]/.test(value)) {
    throw invalidArgument(`tar: ${key} holds bytes; use one char (0-255) per byte`);
  }
  return Buffer.from(value, isBinary(key) ? 'latin1' : 'utf8');
}
