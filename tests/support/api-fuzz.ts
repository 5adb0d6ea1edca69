import { request } from 'node:http';
import { ENGINE_API_ROUTES } from '../../apps/gateway/src/domain/engine-api-schemas.gen';

/**
 * Hostile Engine API requests, generated from a seed so a failure replays exactly: wrong types
 * for every field of the bodies the spec types, junk ids and query values on every route the
 * gateway serves, oversize and malformed bodies, and hijack (Upgrade) requests.
 */
export interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  body?: string | Buffer;
  upgrade?: boolean;
  /** A status the request must get, when anything but that would be a bug. */
  expectStatus?: number;
}

export interface FuzzAnswer {
  status: number;
  body: string;
  /** The request got no answer before the deadline. */
  hung?: boolean;
  /** The connection failed (refused, reset) without an answer. */
  error?: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every route the gateway serves, as `METHOD /path/{id}`. */
export const GATEWAY_ROUTES = [
  'GET /containers/json', 'POST /containers/create', 'GET /containers/{id}/json', 'GET /containers/{id}/top', 'GET /containers/{id}/logs',
  'GET /containers/{id}/changes', 'GET /containers/{id}/export', 'POST /containers/{id}/resize', 'POST /containers/{id}/start',
  'POST /containers/{id}/stop', 'POST /containers/{id}/restart', 'POST /containers/{id}/kill', 'POST /containers/{id}/rename',
  'POST /containers/{id}/pause', 'POST /containers/{id}/unpause', 'POST /containers/{id}/wait', 'DELETE /containers/{id}',
  'GET /containers/{id}/archive', 'HEAD /containers/{id}/archive', 'POST /containers/prune', 'POST /containers/{id}/exec',
  'POST /exec/{id}/start', 'POST /exec/{id}/resize', 'GET /exec/{id}/json', 'GET /images/json', 'POST /images/create',
  'GET /images/{id}/json', 'GET /images/{id}/history', 'DELETE /images/{id}', 'POST /images/{id}/tag', 'GET /images/get', 'POST /images/prune',
  'POST /commit', 'POST /auth', 'GET /networks', 'GET /networks/{id}', 'DELETE /networks/{id}', 'POST /networks/create',
  'POST /networks/{id}/connect', 'POST /networks/{id}/disconnect', 'POST /networks/prune', 'GET /volumes', 'GET /volumes/{id}',
  'DELETE /volumes/{id}', 'POST /volumes/create', 'POST /volumes/prune', 'GET /system/df', 'GET /info', 'GET /version', 'GET /_ping',
];

const JUNK_IDS = ['%ZZ', '..', '..%2F..%2Fetc%2Fpasswd', '%00', '%2F', 'a'.repeat(4000), '%E2%98%83', '-1', '*', '%25ZZ', '%ff%fe'];
const JUNK_QUERY = ['abc', '1.5', '-', '{', '[]', 'null', '{"a":5}', '{"label":"x"}', '%ZZ', '99999999999999999999999', ' ', 'true'];

/** Bodies that the routes with a validated JSON body are given. */
const BAD_JSON = ['{bad', '[]', '"str"', '1', 'true', '{"a":', '\u0000', '['.repeat(5000), '{"Image":'.repeat(200)];

type Schema = { type?: string[]; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: Schema };

/** A value whose JSON kind the schema does not allow (null is always allowed, as in Go). */
function wrongValue(s: Schema, rnd: () => number): unknown {
  const allowed = new Set(s.type ?? []);
  const candidates: [string, unknown][] = [
    ['string', 'yes'],
    ['integer', 5],
    ['boolean', true],
    ['object', { x: 1 }],
    ['array', ['a']],
    ['number', 1.5],
  ];
  // 1.5 is wrong only where an integer is wanted (Go refuses a fraction into an int).
  const pool = candidates.filter(([k]) => !allowed.has(k) && !(k === 'integer' && allowed.has('number')) && !(k === 'number' && allowed.has('number')));
  return pool.length ? pool[Math.floor(rnd() * pool.length)]![1] : undefined;
}

/** For each field (and each field of nested structs, one level down) a body with that field wrong. */
function wrongTypedBodies(schema: Schema, base: Record<string, unknown>, rnd: () => number): { field: string; body: Record<string, unknown> }[] {
  const out: { field: string; body: Record<string, unknown> }[] = [];
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    if (!v.type) continue;
    const bad = wrongValue(v, rnd);
    if (bad !== undefined) out.push({ field: k, body: { ...base, [k]: bad } });
    if (v.properties) {
      for (const [k2, v2] of Object.entries(v.properties)) {
        const bad2 = v2.type ? wrongValue(v2, rnd) : undefined;
        if (bad2 !== undefined) out.push({ field: `${k}.${k2}`, body: { ...base, [k]: { [k2]: bad2 } } });
      }
    }
    if (v.additionalProperties?.type && !v.properties) {
      const bad3 = wrongValue(v.additionalProperties, rnd);
      if (bad3 !== undefined) out.push({ field: `${k}.*`, body: { ...base, [k]: { key: bad3 } } });
    }
  }
  return out;
}

const fill = (route: string, id: string) => route.replace(/\{[^}]+\}/g, id);

export function generateRequests(seed: number, ids: { container: string; network: string; volume: string; exec: string }): FuzzRequest[] {
  const rnd = prng(seed);
  const out: FuzzRequest[] = [];
  const bodies: { route: string; path: string; base: Record<string, unknown> }[] = [
    { route: 'POST /containers/create', path: '/containers/create', base: { Image: 'busybox', Cmd: ['true'] } },
    { route: 'POST /containers/{id}/update', path: `/containers/${ids.container}/update`, base: {} },
    { route: 'POST /containers/{id}/exec', path: `/containers/${ids.container}/exec`, base: { Cmd: ['true'] } },
    { route: 'POST /exec/{id}/start', path: `/exec/${ids.exec}/start`, base: { Detach: true } },
    { route: 'POST /networks/create', path: '/networks/create', base: { Name: 'fuzznet' } },
    { route: 'POST /networks/{id}/connect', path: `/networks/${ids.network}/connect`, base: { Container: ids.container } },
    { route: 'POST /networks/{id}/disconnect', path: `/networks/${ids.network}/disconnect`, base: { Container: ids.container } },
    { route: 'POST /volumes/create', path: '/volumes/create', base: { Name: 'fuzzvol' } },
  ];
  for (const b of bodies) {
    const schema = ENGINE_API_ROUTES[b.route]!.body as Schema;
    for (const w of wrongTypedBodies(schema, b.base, rnd)) {
      out.push({ kind: `wrong type ${b.route} ${w.field}`, method: 'POST', path: b.path, body: JSON.stringify(w.body), expectStatus: 400 });
    }
    for (const j of BAD_JSON) out.push({ kind: `bad JSON ${b.route}`, method: 'POST', path: b.path, body: j, expectStatus: 400 });
    out.push({ kind: `oversize ${b.route}`, method: 'POST', path: b.path, body: Buffer.alloc(9 << 20, 0x20), expectStatus: 413 });
  }
  for (const route of GATEWAY_ROUTES.filter((r) => r.includes('{'))) {
    const [method, tmpl] = route.split(' ') as [string, string];
    for (const id of JUNK_IDS) out.push({ kind: `junk id ${route}`, method, path: fill(tmpl, id) + (route.endsWith('/logs') ? '?stdout=1' : '') });
  }
  for (const [route, schema] of Object.entries(ENGINE_API_ROUTES)) {
    const [method, tmpl] = route.split(' ') as [string, string];
    if (!GATEWAY_ROUTES.includes(route) && !route.startsWith('GET /events')) continue;
    for (const q of schema.query) {
      // `filters=null` is valid (no filters): on a prune it would prune this suite's fixtures.
      const pool = route.includes('prune') ? JUNK_QUERY.filter((v) => v !== 'null') : JUNK_QUERY;
      const value = pool[Math.floor(rnd() * pool.length)]!;
      // Ids that match nothing: a junk value that happens to be valid must not act on a fixture.
      const target = fill(tmpl, 'nosuchthing');
      out.push({ kind: `junk query ${route} ${q.name}`, method, path: `${target}?${q.name}=${encodeURIComponent(value)}` });
    }
  }
  for (const v of ['abc', 'x1', '%ZZ', '{"until":1}']) {
    out.push({ kind: 'junk events since', method: 'GET', path: `/events?since=${encodeURIComponent(v)}&until=1`, expectStatus: 400 });
  }
  for (const path of ['//', '///', '/v1.abc/containers/json', '/v99.0/info', '/v1.12/info', '/containers//json', '/%ZZ', '/containers/json?%ZZ=%ZZ']) {
    out.push({ kind: 'junk target', method: 'GET', path });
    out.push({ kind: 'junk target', method: 'POST', path });
  }
  for (const path of ['/exec/%ZZ/start', '/containers/%ZZ/attach', '//', '/exec/nosuch/start', '/containers/nosuch/attach?stream=1&stdout=1', '/v1.abc/exec/x/start', '/exec/x/start?%ZZ', '/images/json']) {
    out.push({ kind: 'upgrade', method: 'POST', path, upgrade: true, body: '{}' });
  }
  for (const j of ['{bad', '{"Detach":"yes"}', '[]']) out.push({ kind: 'upgrade bad body', method: 'POST', path: `/exec/${ids.exec}/start`, upgrade: true, body: j, expectStatus: 400 });
  return out;
}

/** Sends one request over the unix socket; raw enough to send what a well-behaved client would not. */
export function send(socketPath: string, r: FuzzRequest, deadlineMs: number): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: FuzzAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json' };
    if (r.upgrade) Object.assign(headers, { Connection: 'Upgrade', Upgrade: 'tcp' });
    if (r.body !== undefined) headers['Content-Length'] = Buffer.byteLength(r.body);
    const req = request({ socketPath, method: r.method, path: r.path, headers });
    const timer = setTimeout(() => done({ status: 0, body: '', hung: true }), deadlineMs);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        if (text.length < 4096) text += d.toString();
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
      res.on('error', () => done({ status: res.statusCode ?? 0, body: text }));
      // A stream answer (2xx on a route that streams) is an answer; do not wait for its end.
      if ((res.statusCode ?? 0) < 300 && r.method !== 'HEAD') setTimeout(() => done({ status: res.statusCode ?? 0, body: text }), 2000);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      done({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('error', (err) => done({ status: 0, body: '', error: err.message }));
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}
