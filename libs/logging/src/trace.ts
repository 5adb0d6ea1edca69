import { appendFileSync } from 'node:fs';

/**
 * Step timings for the run path (tools/bench/run-trace.ts): with `BERTH_TRACE=<file>` in a
 * service's environment every `span` appends one JSON line `{svc, step, id, at, ms}` to that file;
 * without it `span` hands back one shared no-op, so the path pays a property read and nothing else.
 * Lines are short and written with O_APPEND, so the services can share one file.
 */
const file = process.env.BERTH_TRACE;
let service = 'unknown';

export type EndSpan = () => void;
const noop: EndSpan = () => undefined;

/** Names the service in this process's trace lines. */
export function traceService(name: string): void {
  service = name;
}

export function tracing(): boolean {
  return !!file;
}

/** Starts timing `step` (of container `id`, when known); the returned function ends it. */
export function span(step: string, id = ''): EndSpan {
  if (!file) return noop;
  const at = Date.now();
  const t0 = process.hrtime.bigint();
  return () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    try {
      appendFileSync(file, `${JSON.stringify({ svc: service, step, id, at, ms: Math.round(ms * 100) / 100 })}\n`);
    } catch {
      // tracing never breaks the path it measures
    }
  };
}

/** Records a duration measured elsewhere (e.g. from a file's mtime to now). */
export function traceDuration(step: string, id: string, ms: number): void {
  if (!file) return;
  try {
    appendFileSync(file, `${JSON.stringify({ svc: service, step, id, at: Date.now() - ms, ms: Math.round(ms * 100) / 100 })}\n`);
  } catch {
    // as above
  }
}

/** Times a promise as `step`. */
export function traced<T>(step: string, id: string, p: Promise<T> | (() => Promise<T>)): Promise<T> {
  if (!file) return typeof p === 'function' ? p() : p;
  const end = span(step, id);
  const q = typeof p === 'function' ? p() : p;
  return q.finally(end);
}
