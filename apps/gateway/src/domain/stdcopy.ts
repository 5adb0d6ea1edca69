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
export function rfc3339Nano(unixNano: number | bigint): string {
  const ns = BigInt(unixNano);
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${new Date(ms).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** Docker's `--since`/`--until` values: unix seconds with optional fraction, or RFC3339; 0 when empty. */
export function parseTimestampNano(v: string | undefined): number {
  if (!v) return 0;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, f = ''] = v.split('.');
    return Number(s) * 1e9 + Number(f.padEnd(9, '0').slice(0, 9));
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`invalid timestamp: ${v}`);
  return t * 1e6;
}
