import { log } from '@berth/logging';

/**
 * A record stored before the edge validated input (or written by a buggy version) must not
 * fail a whole list: a summary that does not parse is left out and logged, and label values
 * that are not strings (which the docker CLI cannot decode) are shown as strings.
 */
export function parseSummaries(records: { summaryJson: Uint8Array }[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of records) {
    let s: unknown;
    try {
      s = JSON.parse(Buffer.from(r.summaryJson).toString('utf8'));
    } catch (err) {
      log().warn({ err: (err as Error).message }, 'skipped a container record that does not parse');
      continue;
    }
    if (typeof s !== 'object' || s === null || Array.isArray(s)) continue;
    const row = s as Record<string, unknown>;
    if (row.Labels && typeof row.Labels === 'object') {
      row.Labels = Object.fromEntries(Object.entries(row.Labels as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    }
    out.push(row);
  }
  return out;
}
