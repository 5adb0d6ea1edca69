/**
 * Derives the JSON schemas the gateway validates requests with from the Engine API spec, so
 * the edge checks types the spec states instead of hand-written per-field checks.
 *
 *   npx tsx tools/api-schema/gen-engine-schemas.ts [--check] [--spec <docker-engine-api.yaml>]
 *
 * The spec is not in the repository (CI clones lack ../shared), so the output is committed;
 * --check regenerates in memory and fails when the committed file differs (and is skipped,
 * successfully, when the spec is absent).
 *
 * The schemas follow what dockerd's Go decoder does rather than swagger's letter: every value
 * may be null (Go leaves the zero value), unknown fields are ignored, enums and ranges are not
 * checked at decode time, and a few Go types accept more than the spec says (strslice: a
 * string or a list). Each schema carries the Go names the decoder's messages use.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const OUT = join(ROOT, 'apps/gateway/src/domain/engine-api-schemas.gen.ts');

type Swagger = Record<string, unknown> & { type?: string; $ref?: string; allOf?: Swagger[]; properties?: Record<string, Swagger>; additionalProperties?: Swagger | boolean; items?: Swagger; format?: string; title?: string };

/** Operations whose JSON body is validated, with the Go struct dockerd 20.10 decodes it into. */
const BODIES: { op: string; struct: string }[] = [
  { op: 'ContainerCreate', struct: 'ContainerConfigWrapper' },
  { op: 'ContainerUpdate', struct: 'UpdateConfig' },
  { op: 'ContainerExec', struct: 'ExecConfig' },
  { op: 'ExecStart', struct: 'ExecStartCheck' },
  { op: 'NetworkCreate', struct: 'NetworkCreateRequest' },
  { op: 'NetworkConnect', struct: 'NetworkConnect' },
  { op: 'NetworkDisconnect', struct: 'NetworkDisconnect' },
  { op: 'VolumeCreate', struct: 'VolumeCreateBody' },
  { op: 'ImageCommit', struct: 'Config' },
  { op: 'SystemAuth', struct: 'AuthConfig' },
];

/** Go type names of the spec's definitions where they differ from the definition's name. */
const GO_TYPES: Record<string, string> = {
  ContainerConfig: 'container.Config',
  HostConfig: 'container.HostConfig',
  RestartPolicy: 'container.RestartPolicy',
  Resources: 'container.Resources',
  HealthConfig: 'container.HealthConfig',
  NetworkingConfig: 'network.NetworkingConfig',
  EndpointSettings: 'network.EndpointSettings',
  EndpointIPAMConfig: 'network.EndpointIPAMConfig',
  IPAM: 'network.IPAM',
  IPAMConfig: 'network.IPAMConfig',
  Mount: 'mount.Mount',
  PortBinding: 'nat.PortBinding',
  DeviceMapping: 'container.DeviceMapping',
  DeviceRequest: 'container.DeviceRequest',
  ThrottleDevice: 'blkiodev.ThrottleDevice',
};

/** Fields whose Go type is strslice.StrSlice: a JSON string is accepted as a one-element list. */
const STRSLICE = new Set(
  ['ContainerConfig', 'ContainerConfigWrapper', 'Config'].flatMap((s) => ['Cmd', 'Entrypoint', 'Shell'].map((f) => `${s}.${f}`)).concat(['HostConfig.CapAdd', 'HostConfig.CapDrop']),
);

/** Query parameters the spec types as integers that dockerd parses as timestamps or durations. */
const NOT_INTEGER_QUERY = new Set(['since', 'until']);

const args = process.argv.slice(2);
const check = args.includes('--check');
const specArg = args.indexOf('--spec') >= 0 ? args[args.indexOf('--spec') + 1] : undefined;
const candidates = [specArg, process.env.BERTH_ENGINE_SPEC, join(ROOT, '../shared/reference/docker-engine-api.yaml'), '/work/shared/reference/docker-engine-api.yaml'].filter(Boolean) as string[];
const specPath = candidates.find((p) => existsSync(p));
if (!specPath) {
  if (check) {
    console.log('engine-api schemas: spec not found here; check skipped');
    process.exit(0);
  }
  console.error(`engine-api schemas: no spec at ${candidates.join(', ')}`);
  process.exit(1);
}

const spec = parse(readFileSync(specPath, 'utf8')) as { definitions: Record<string, Swagger>; paths: Record<string, Record<string, { operationId?: string; parameters?: (Swagger & { in: string; name: string; schema?: Swagger })[] }>>; info: { version: string } };

function goScalar(s: Swagger): string {
  switch (s.type) {
    case 'boolean':
      return 'bool';
    case 'integer':
      return s.format === 'int32' ? 'int' : s.format === 'uint16' ? 'uint16' : s.format === 'uint64' ? 'uint64' : 'int64';
    case 'number':
      return 'float64';
    case 'string':
      return 'string';
    default:
      return 'interface {}';
  }
}

/** Converts one swagger schema; `owner` is the swagger name of the struct holding the field. */
function convert(s: Swagger, owner: string, field: string, depth = 0): Record<string, unknown> {
  if (depth > 20) return {};
  if (s.$ref) {
    const name = s.$ref.replace('#/definitions/', '');
    return convert({ ...spec.definitions[name]!, title: name }, owner, field, depth + 1);
  }
  if (s.allOf) {
    const parts = s.allOf.map((part) => (part.$ref ? spec.definitions[part.$ref.replace('#/definitions/', '')]! : part));
    // allOf around a scalar (e.g. Mount.Type, an enum string): the field has that scalar's type.
    if (parts.every((p) => !p.properties && !p.allOf && p.type !== 'object')) return convert(parts[0]!, owner, field, depth + 1);
    const merged: Swagger = { type: 'object', properties: {}, title: s.title };
    for (const part of s.allOf) {
      const p = part.$ref ? spec.definitions[part.$ref.replace('#/definitions/', '')]! : part;
      const flat = p.allOf ? (convertFlat(p) as Swagger) : p;
      Object.assign(merged.properties!, flat.properties ?? {});
    }
    return convert(merged, owner, field, depth + 1);
  }
  if (STRSLICE.has(`${owner}.${field}`)) {
    return { type: ['array', 'string', 'null'], items: { type: ['string', 'null'], 'x-go': 'string' }, 'x-go': 'strslice.StrSlice' };
  }
  if (s.type === 'array') {
    const items = s.items ? convert(s.items, owner, field, depth + 1) : {};
    return { type: ['array', 'null'], items, 'x-go': `[]${String(items['x-go'] ?? 'interface {}')}` };
  }
  if (s.type === 'object' || s.properties || s.additionalProperties) {
    if (s.properties) {
      const name = s.title ?? field;
      const properties: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties)) properties[k] = convert(v, name, k, depth + 1);
      return { type: ['object', 'null'], properties, 'x-struct': name, 'x-go': GO_TYPES[name] ?? name };
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      const values = convert(s.additionalProperties, owner, field, depth + 1);
      return { type: ['object', 'null'], additionalProperties: values, 'x-go': `map[string]${String(values['x-go'] ?? 'interface {}')}` };
    }
    return { type: ['object', 'null'], 'x-go': 'map[string]interface {}' };
  }
  if (!s.type) return {};
  return { type: [s.type, 'null'], 'x-go': goScalar(s) };
}

function convertFlat(s: Swagger): Swagger {
  const out: Swagger = { type: 'object', properties: {} };
  for (const part of s.allOf ?? []) {
    const p = part.$ref ? spec.definitions[part.$ref.replace('#/definitions/', '')]! : part;
    Object.assign(out.properties!, (p.allOf ? convertFlat(p) : p).properties ?? {});
  }
  return out;
}

interface QueryParam {
  name: string;
  type: 'integer' | 'string' | 'boolean' | 'filters';
}
const routes: Record<string, { operationId: string; body?: Record<string, unknown>; query: QueryParam[] }> = {};
for (const [path, methods] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(methods)) {
    if (!op.operationId) continue;
    const key = `${method.toUpperCase()} ${path}`;
    const query: QueryParam[] = [];
    let body: Record<string, unknown> | undefined;
    for (const p of op.parameters ?? []) {
      if (p.in === 'query') {
        const type = p.name === 'filters' ? 'filters' : p.type === 'integer' && !NOT_INTEGER_QUERY.has(p.name) ? 'integer' : p.type === 'boolean' ? 'boolean' : 'string';
        query.push({ name: p.name, type });
      }
      const wanted = BODIES.find((b) => b.op === op.operationId);
      if (p.in === 'body' && p.schema && wanted) {
        const root = p.schema.$ref ? p.schema.$ref.replace('#/definitions/', '') : (p.schema.title ?? wanted.struct);
        body = convert({ ...p.schema, title: root }, wanted.struct, '');
        // The decoder names the top-level struct by its Go name.
        body['x-struct'] = wanted.struct;
        body['x-go'] = wanted.struct;
      }
    }
    if (!body && !query.some((q) => q.type !== 'string' && q.type !== 'boolean')) continue;
    routes[key] = { operationId: op.operationId, ...(body ? { body } : {}), query: query.filter((q) => q.type !== 'string' && q.type !== 'boolean') };
  }
}

const text = `// Generated by tools/api-schema/gen-engine-schemas.ts from the Engine API spec ${spec.info.version}; do not edit.
// Regenerate: npx tsx tools/api-schema/gen-engine-schemas.ts (check: --check).
/* eslint-disable */
export interface QueryParamType {
  name: string;
  type: 'integer' | 'string' | 'boolean' | 'filters';
}
export interface RouteSchema {
  operationId: string;
  body?: Record<string, unknown>;
  query: QueryParamType[];
}
export const ENGINE_API_ROUTES: Record<string, RouteSchema> = ${JSON.stringify(routes, null, 2)};
`;

if (check) {
  const current = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  if (current !== text) {
    console.error(`engine-api schemas: ${OUT} is out of date; run: npx tsx tools/api-schema/gen-engine-schemas.ts`);
    process.exit(1);
  }
  console.log('engine-api schemas: generated code is up to date');
} else {
  writeFileSync(OUT, text);
  console.log(`engine-api schemas: wrote ${OUT} from ${specPath} (${Object.keys(routes).length} routes)`);
}
void dirname;
