import { invalidArgument } from '@berth/errors';

/** Docker's multiplexed stream frame: [stream, 0, 0, 0, size (uint32 BE)] then the payload. */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

export function frame(stream: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/**
 * `docker logs -t`'s time prefix: dockerd formats it with Go's RFC3339NanoFixed layout, nine
 * digits of fraction always (the json-file `time` field drops trailing zeros; this does not).
 */
export function rfc3339NanoFixed(sec: number, nanos: number): string {
  return `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

/** Docker's `--since`/`--until` values (unix seconds with an optional fraction, or RFC3339) as [seconds, nanos]; [0, 0] when empty. */
export function parseTimestamp(v: string | undefined): [number, number] {
  if (!v) return [0, 0];
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, f = ''] = v.split('.');
    return [Number(s), Number(f.padEnd(9, '0').slice(0, 9))];
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid value for "since": ${v}`);
  return [Math.floor(t / 1000), (t % 1000) * 1e6];
}
