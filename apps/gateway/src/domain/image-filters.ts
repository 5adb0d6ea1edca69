import { invalidArgument, notFound } from '@berth/errors';
import type { imagesV1 } from '@berth/proto';

/** Engine API filters come as {"key": ["v"]} or the older {"key": {"v": true}}. */
export function filterValues(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.keys(v).filter((k) => (v as Record<string, unknown>)[k]);
  return [];
}

export function parseFilters(q: unknown): Record<string, string[]> {
  if (typeof q !== 'string' || q === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(q);
  } catch {
    throw invalidArgument('invalid filter: the filters parameter is not JSON');
  }
  if (!doc || typeof doc !== 'object') throw invalidArgument('invalid filter: the filters parameter is not an object');
  return Object.fromEntries(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k, filterValues(v)]));
}

export function labelsOf(i: imagesV1.Image): Record<string, string> {
  try {
    const cfg = JSON.parse(Buffer.from(i.configJson).toString('utf8')) as { config?: { Labels?: Record<string, string> | null } };
    return cfg.config?.Labels ?? {};
  } catch {
    return {};
  }
}

/** `label=k`, `label=k=v`: every one must hold. */
export function matchLabels(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

/** Docker's path.Match-style glob: `*` and `?` do not cross `/`. */
function glob(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

/** Matches `reference=` against `repo` and `repo:tag` of a familiar tag (or repo@digest). */
function matchesName(n: string, patterns: string[]): boolean {
  const repo = n.includes('@') ? n.slice(0, n.indexOf('@')) : n.slice(0, n.lastIndexOf(':') > n.lastIndexOf('/') ? n.lastIndexOf(':') : n.length);
  return patterns.some((p) => {
    const re = glob(p);
    return re.test(n) || re.test(repo);
  });
}

/** Parses `until`: a Unix timestamp, an RFC 3339 time or a Go duration like `24h`, `90m`. */
export function untilMs(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(v) ? v : '';
  if (d) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`failed to parse value as time or duration: "${v}"`);
  return t;
}

const LIST_KEYS = new Set(['dangling', 'reference', 'before', 'since', 'label', 'until']);

export const isDangling = (i: imagesV1.Image) => i.repoTags.length === 0 && i.repoDigests.length === 0;

/** `docker image ls --filter`: values of one key are OR'ed (label: AND'ed), keys are AND'ed. */
export function filterImages(list: imagesV1.Image[], filters: Record<string, string[]>): imagesV1.Image[] {
  for (const k of Object.keys(filters)) if (!LIST_KEYS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  const dangling = filters.dangling ?? [];
  for (const d of dangling) if (!['true', 'false', '1', '0'].includes(d)) throw invalidArgument(`invalid filter 'dangling=${d}'`);
  const find = (ref: string) => {
    const hit = list.find((i) => i.id === ref || i.id.slice(7).startsWith(ref.replace(/^sha256:/, '')) || i.repoTags.includes(ref) || i.repoTags.includes(`${ref}:latest`));
    if (!hit) throw notFound(`No such image: ${ref}`);
    return hit;
  };
  const before = (filters.before ?? []).map(find);
  const since = (filters.since ?? []).map(find);
  const until = (filters.until ?? []).map((u) => untilMs(u));
  const refs = filters.reference ?? [];
  // Like Docker, a reference filter also narrows each image's names to the matching ones.
  const named = refs.length
    ? list
        .map((i) => ({ ...i, repoTags: i.repoTags.filter((n) => matchesName(n, refs)), repoDigests: i.repoDigests.filter((n) => matchesName(n, refs)) }))
        .filter((i) => i.repoTags.length + i.repoDigests.length > 0)
    : list;
  return named.filter((i) => {
    if (dangling.length && dangling.some((d) => d === 'true' || d === '1') !== isDangling(i)) return false;
    if (filters.label?.length && !matchLabels(labelsOf(i), filters.label)) return false;
    if (before.some((b) => i.createdUnixMs >= b.createdUnixMs || i.id === b.id)) return false;
    if (since.some((s) => i.createdUnixMs <= s.createdUnixMs || i.id === s.id)) return false;
    if (until.some((u) => i.createdUnixMs >= u)) return false;
    return true;
  });
}
