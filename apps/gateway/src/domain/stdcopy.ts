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

/** RFC3339 with nanoseconds, as `docker logs -t` prints. */
export function rfc3339Nano(sec: number, nanos: number): string {
  const ns = BigInt(sec) * 1_000_000_000n + BigInt(nanos);
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${new Date(ms).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
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
