import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { traceService } from './trace';

export type { Logger } from 'pino';
export type LogFormat = 'json' | 'console';

export interface LoggerOptions {
  service: string;
  level?: string;
  format?: LogFormat;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const CORE_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

/** Renders pino's JSON lines for humans. Kept in-process (no worker transport) so bundles stay self-contained. */
export function consoleLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(Number(rec.time ?? Date.now())).toISOString().slice(11, 23);
  const level = LEVEL_NAMES[Number(rec.level)] ?? String(rec.level);
  const extra = Object.entries(rec)
    .filter(([k]) => !CORE_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} [${String(rec.service ?? '-')}] ${String(rec.msg ?? '')}${extra ? ` ${extra}` : ''}`;
}

function consoleStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        out.write(`${consoleLine(pending.slice(0, nl))}\n`);
        pending = pending.slice(nl + 1);
      }
      done();
    },
  });
}

export function createLogger(opts: LoggerOptions): Logger {
  traceService(opts.service);
  const out = opts.destination ?? process.stdout;
  const dest = opts.format === 'console' ? consoleStream(out) : out;
  return pino(
    { level: opts.level ?? 'info', base: { service: opts.service, pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime },
    dest,
  );
}

const current = new AsyncLocalStorage<Logger>();

/** Runs fn with a child logger (e.g. per request or per operation) that `log()` returns inside it. */
export function withLogger<T>(logger: Logger, fn: () => T): T {
  return current.run(logger, fn);
}

let fallback: Logger | undefined;
export function setDefaultLogger(logger: Logger): void {
  fallback = logger;
}

/** The logger of the current operation, or the process default. */
export function log(): Logger {
  const l = current.getStore() ?? fallback;
  if (!l) {
    fallback = createLogger({ service: 'berth' });
    return fallback;
  }
  return l;
}
export { span, traced, traceDuration, traceService, tracing, type EndSpan } from './trace';
