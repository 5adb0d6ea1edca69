import { randomBytes } from 'node:crypto';
import { failedPrecondition, notFound } from '@berth/errors';

/** A new 64-hex object ID, as Docker uses for containers, networks and execs. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** A full 64-hex object ID, as newId makes (not a prefix, not a name). */
export function isFullId(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export interface Named {
  id: string;
  name: string;
}

/**
 * Finds an object the way Docker does: exact ID, then exact name, then a unique ID prefix.
 * `what` is the noun in Docker's messages, e.g. "container" gives "No such container: x".
 */
export function resolveRef<T extends Named>(items: Iterable<T>, ref: string, what: string): T {
  const all = [...items];
  const byId = all.find((i) => i.id === ref);
  if (byId) return byId;
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const byName = all.find((i) => i.name === name);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const matches = all.filter((i) => i.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw failedPrecondition(`multiple IDs found with provided prefix: ${ref}`);
  }
  throw notFound(`No such ${what}: ${ref}`);
}
