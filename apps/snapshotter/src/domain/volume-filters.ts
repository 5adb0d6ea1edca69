import { invalidArgument } from '@berth/errors';

export type Filters = Record<string, string[]>;

/** Engine API filters JSON ({"k":["v"]} or the older {"k":{"v":true}}) as lists, checked against `allowed`. */
export function parseFilters(json: string, allowed: readonly string[]): Filters {
  if (!json) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw invalidArgument(`invalid filter: ${json}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidArgument(`invalid filter: ${json}`);
  const out: Filters = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!allowed.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    out[k] = Array.isArray(v) ? v.map(String) : Object.keys(v as object).filter((x) => (v as Record<string, unknown>)[x]);
  }
  return out;
}

/** `key` or `key=value` against a label map, as Docker's label filter matches. */
export function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  return i < 0 ? filter in labels : labels[filter.slice(0, i)] === filter.slice(i + 1);
}

/** Docker's boolean filter values. */
export function filterBool(field: string, v: string): boolean {
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw invalidArgument(`invalid filter '${field}=${v}'`);
}

/** Docker matches `name` filters as unanchored regular expressions. */
export function matchName(name: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}
