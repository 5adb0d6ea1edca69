import express, { type Request, type RequestHandler } from 'express';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { BerthError, invalidArgument } from '@berth/errors';
import { ENGINE_API_ROUTES, type QueryParamType, type RouteSchema } from '../domain/engine-api-schemas.gen';

/**
 * Validation at the edge, keyed by route ("POST /containers/{id}/update", as the spec writes
 * it). The schemas come from the Engine API spec (tools/api-schema); a route another module
 * owns can add or replace its own with registerRouteSchema before the app is built. Nothing
 * whose types the spec refuses reaches a service, so nothing stored can later break a list or
 * an inspect, and the client reads the message dockerd's Go decoder would have written.
 */
interface CompiledRoute {
  key: string;
  method: string;
  pattern: RegExp;
  schema: RouteSchema;
  compiled?: ValidateFunction;
}

const ajv = new Ajv({ strict: false, allErrors: false });
const routes = new Map<string, CompiledRoute>();

const BODY_LIMIT = '8mb';
const readBody = express.raw({ type: () => true, limit: BODY_LIMIT });

export function registerRouteSchema(key: string, schema: RouteSchema): void {
  const [method, path] = key.split(' ') as [string, string];
  const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
  routes.set(key, { key, method, pattern, schema });
}

/**
 * A route's body check, compiled on its first request: ajv's generated code for all the spec's
 * bodies held ~1 MiB of the gateway's heap for routes most engines never see (`docker run` needs
 * create's alone, ~0.3 MiB).
 */
function bodyCheck(r: CompiledRoute): ValidateFunction | undefined {
  if (!r.schema.body) return undefined;
  r.compiled ??= ajv.compile(r.schema.body);
  return r.compiled;
}

for (const [key, schema] of Object.entries(ENGINE_API_ROUTES)) registerRouteSchema(key, schema);

function routeOf(method: string, path: string): CompiledRoute | undefined {
  for (const r of routes.values()) if (r.method === method && r.pattern.test(path)) return r;
  return undefined;
}

/** Go's name for the kind of a JSON value, as its decoder prints it. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${String(v)}`;
  return typeof v === 'boolean' ? 'bool' : 'string';
}

/** Walks the schema along the error's path to name the Go struct and field dockerd would name. */
function goMessage(root: Record<string, unknown>, value: unknown, err: ErrorObject): string {
  const segments = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let schema: Record<string, unknown> | undefined = root;
  let v: unknown = value;
  let struct = String(root['x-struct'] ?? '');
  const fields: string[] = [];
  for (const seg of segments) {
    if (!schema) break;
    const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
    if (props && props[seg]) {
      struct = String(schema['x-struct'] ?? struct);
      fields.push(seg);
      schema = props[seg];
    } else if (schema.items) {
      schema = schema.items as Record<string, unknown>;
    } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
      schema = schema.additionalProperties as Record<string, unknown>;
    } else {
      schema = undefined;
    }
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
  }
  const goType = String(schema?.['x-go'] ?? 'interface {}');
  if (fields.length === 0) return `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${goType}`;
  return `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${fields.join('.')} of type ${goType}`;
}

/** Checks a parsed body against a route's schema; returns it, or throws dockerd's 400. */
export function validateBody(key: string, value: unknown): unknown {
  const r = routes.get(key);
  const check = r ? bodyCheck(r) : undefined;
  if (!r || !check || check(value)) return value;
  throw invalidArgument(goMessage(r.schema.body!, value, check.errors![0]!));
}

function parseJsonBody(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
  }
}

/** The shape dockerd's filters.FromJSON takes: {"key": {"value": true}} or the older {"key": ["value"]}. */
function checkFilters(raw: string): void {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalidArgument('invalid filter');
  }
  if (v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidArgument('invalid filter');
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    const ok =
      vals === null ||
      (Array.isArray(vals) && vals.every((x) => typeof x === 'string')) ||
      (typeof vals === 'object' && !Array.isArray(vals) && Object.values(vals as object).every((x) => typeof x === 'boolean'));
    if (!ok) throw invalidArgument(`invalid filter '${k}'`);
  }
}

function checkQuery(params: QueryParamType[], query: Record<string, unknown>): void {
  for (const p of params) {
    const raw = query[p.name];
    if (raw === undefined) continue;
    // Repeated parameters: dockerd reads the first.
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value !== 'string') throw invalidArgument(`invalid value for ${p.name}`);
    if (value === '') continue;
    if (p.type === 'integer' && !/^[+-]?\d{1,19}$/.test(value)) throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
    if (p.type === 'filters') checkFilters(value);
  }
}

/**
 * `filters=null` is valid JSON that dockerd reads as no filters; handlers (and the services
 * they pass filters to) expect an object, so it leaves the URL here.
 */
function dropNullFilters(req: Request): void {
  const q = req.url.indexOf('?');
  if (q < 0) return;
  const params = new URLSearchParams(req.url.slice(q + 1));
  const f = params.get('filters');
  if (f === null || f.trim() !== 'null') return;
  params.delete('filters');
  const rest = params.toString();
  req.url = req.url.slice(0, q) + (rest ? `?${rest}` : '');
}

/** The middleware: reads and checks the JSON body of a validated route, and its typed query parameters. */
export const apiValidation: RequestHandler = (req, res, next) => {
  const r = routeOf(req.method, req.path);
  if (!r) return next();
  try {
    checkQuery(r.schema.query, req.query as Record<string, unknown>);
  } catch (err) {
    return next(err);
  }
  dropNullFilters(req);
  if (!r.schema.body) return next();
  readBody(req, res, (err?: unknown) => {
    if (err) return next(err);
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const value = parseJsonBody(body);
      if (value !== undefined) validateBody(r.key, value);
      next();
    } catch (e) {
      next(e instanceof BerthError ? e : invalidArgument(String(e)));
    }
  });
};
