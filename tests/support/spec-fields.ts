import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const SPEC_PATH = '/work/shared/reference/docker-engine-api.yaml';

interface Schema {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  'x-nullable'?: boolean;
}

let cached: { definitions: Record<string, Schema> } | undefined;
function spec(): { definitions: Record<string, Schema> } {
  cached ??= parse(readFileSync(SPEC_PATH, 'utf8')) as { definitions: Record<string, Schema> };
  return cached;
}

/** The schema behind a definition name or a $ref, with allOf merged. */
export function schema(nameOrSchema: string | Schema): Schema {
  let s: Schema = typeof nameOrSchema === 'string' ? { $ref: `#/definitions/${nameOrSchema}` } : nameOrSchema;
  while (s.$ref) s = spec().definitions[s.$ref.replace('#/definitions/', '')] ?? {};
  if (!s.allOf) return s;
  const properties: Record<string, Schema> = { ...(s.properties ?? {}) };
  for (const part of s.allOf) Object.assign(properties, schema(part).properties ?? {});
  return { ...s, properties };
}

/** Field names a definition lists, at the top level. */
export function specFields(name: string): string[] {
  return Object.keys(schema(name).properties ?? {}).sort();
}

/** The spec's fields of `name` missing from `value` (an object the engine returned). */
export function missingFields(name: string, value: Record<string, unknown>, except: string[] = []): string[] {
  return specFields(name).filter((f) => !(f in value) && !except.includes(f));
}
