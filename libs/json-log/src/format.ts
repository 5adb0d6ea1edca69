export type StreamName = 'stdout' | 'stderr';

export interface LogLine {
  stream: StreamName;
  /** The bytes as the process wrote them, newline included when there was one. */
  line: Buffer;
  timeNano: bigint;
}

/** RFC3339 with nanoseconds in UTC, as Docker's json-file driver writes `time`. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

let cachedSecond = '';
let cachedSecondNs = 0n;

/** Nanoseconds since 1970 from an RFC3339 time (any fraction, `Z` or an offset); 0n when unparsable. */
export function parseRfc3339Nano(s: string): bigint {
  // Rows of one second share their date part: parse it once (reading a big log is mostly this).
  if (s.length > 21 && s.charCodeAt(19) === 46 && s.charCodeAt(s.length - 1) === 90) {
    const second = s.slice(0, 19);
    if (second !== cachedSecond) {
      const ms = Date.parse(`${second}Z`);
      if (Number.isNaN(ms)) return 0n;
      cachedSecond = second;
      cachedSecondNs = BigInt(ms) * 1_000_000n;
    }
    const frac = s.slice(20, -1);
    if (/^\d{1,9}$/.test(frac)) return cachedSecondNs + BigInt(frac.padEnd(9, '0'));
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return 0n;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9));
}

let lastNano = 0n;
/** Wall-clock nanoseconds, strictly increasing within a process so lines keep their order by time. */
export function nowNano(): bigint {
  const [s, ns] = [Date.now(), process.hrtime.bigint() % 1_000_000n];
  let t = BigInt(s) * 1_000_000n + ns;
  if (t <= lastNano) t = lastNano + 1n;
  lastNano = t;
  return t;
}

/** One json-file row, newline included. */
export function encodeEntry(l: LogLine): Buffer {
  return Buffer.from(`${JSON.stringify({ log: l.line.toString('utf8'), stream: l.stream, time: rfc3339Nano(l.timeNano) })}\n`);
}

/** Parses one row (without its newline); throws on anything that is not a json-file entry. */
export function decodeEntry(row: string): LogLine {
  const r = JSON.parse(row) as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof r.log !== 'string' || (r.stream !== 'stdout' && r.stream !== 'stderr') || typeof r.time !== 'string') throw new Error('not a json-file log entry');
  return { stream: r.stream, line: Buffer.from(r.log, 'utf8'), timeNano: parseRfc3339Nano(r.time) };
}
