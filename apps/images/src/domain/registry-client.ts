import { BerthError, internal, invalidArgument, messageOf, permissionDenied } from '@berth/errors';
import { type Reference, DEFAULT_DOMAIN } from '@berth/reference';

/** Credentials as the client sent them (X-Registry-Auth); all optional. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

export interface RegistryOptions {
  /** Hosts (`host[:port]`) spoken to over plain HTTP, besides loopback. */
  insecureRegistries: string[];
  /** Endpoint overrides by registry domain (`docker.io` → `http://127.0.0.1:5000`). */
  hosts: Record<string, string>;
  /** How long to wait for response headers, and for each chunk of a body. */
  timeoutMs: number;
  /** Attempts for idempotent requests failing transiently (network errors, 5xx, 429). */
  attempts: number;
  /** Delay before the first retry; doubled on each further one. */
  backoffMs: number;
}

export const DEFAULT_REGISTRY_TIMEOUT_MS = 30_000;
export const DEFAULT_REGISTRY_ATTEMPTS = 4;
export const DEFAULT_REGISTRY_BACKOFF_MS = 250;
export const MAX_MANIFEST_FETCH_BYTES = 4 * 1024 * 1024;
const MAX_TOKEN_BYTES = 1024 * 1024;

export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];

/** Docker's hub answers on another host than the name users type. */
function endpointHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
}

/** Localhost is insecure by default, like Docker; others only when configured. */
export function isInsecure(domain: string, insecure: string[]): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return true;
  return insecure.includes(domain) || insecure.includes(host);
}

/** An error the registry answered, carrying its status and the OCI error code if any. */
export class RegistryError extends BerthError {
  constructor(
    kind: BerthError['kind'],
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(kind, message);
  }
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** What the registry said in its OCI error body, for messages like Docker's. */
async function errorText(res: Response): Promise<{ code: string; message: string }> {
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    const e = body.errors?.[0];
    if (e) return { code: e.code ?? '', message: `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}` };
  } catch {
    // not an OCI error body
  }
  return { code: '', message: `${res.status} ${res.statusText}` };
}

export interface RequestOpts {
  headers?: Record<string, string>;
  body?: AsyncIterable<Uint8Array> | Uint8Array;
  /** Retried on transient failures (only for requests that can be repeated). */
  idempotent?: boolean;
  /** Push needs push access; the token is asked for both. */
  push?: boolean;
}

/**
 * A client for one repository of one registry over the OCI Distribution API: it picks the
 * scheme, answers auth challenges (Basic, or Bearer tokens from the realm), follows redirects
 * to blob storage and retries transient failures with backoff. It returns raw responses;
 * verifying what comes back is the caller's business.
 */
export class RegistryClient {
  readonly base: string;
  private authorization: string | undefined;
  private authorizedFor: 'pull' | 'push' | undefined;

  constructor(
    readonly ref: Reference,
    private readonly creds: RegistryCredentials,
    private readonly opts: RegistryOptions,
  ) {
    const scheme = isInsecure(ref.domain, opts.insecureRegistries) ? 'http' : 'https';
    this.base = opts.hosts[ref.domain] ?? `${scheme}://${endpointHost(ref.domain)}`;
    if (creds.registryToken) this.authorization = `Bearer ${creds.registryToken}`;
  }

  url(path: string): string {
    return path.startsWith('http://') || path.startsWith('https://') ? path : `${this.base}${path}`;
  }

  repoPath(suffix: string): string {
    return `/v2/${this.ref.path}${suffix}`;
  }

  /** One request with auth and retries; the response body is left unread. */
  async request(method: string, path: string, o: RequestOpts = {}): Promise<Response> {
    const url = this.url(path);
    const attempts = o.idempotent === false ? 1 : this.opts.attempts;
    let challenged = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.once(method, url, o);
      } catch (err) {
        if (attempt < attempts) {
          await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
          continue;
        }
        throw err;
      }
      if (res.status === 401 && !challenged) {
        challenged = true;
        const header = res.headers.get('www-authenticate');
        await res.body?.cancel();
        if (header && (await this.authenticate(header, o.push ? 'push' : 'pull'))) {
          attempt--;
          continue;
        }
        return this.once(method, url, o);
      }
      if ((res.status >= 500 || res.status === 429) && attempt < attempts && o.idempotent !== false) {
        await res.body?.cancel();
        await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
        continue;
      }
      return res;
    }
  }

  private async once(method: string, url: string, o: RequestOpts): Promise<Response> {
    const headers: Record<string, string> = { 'User-Agent': 'berth', ...o.headers };
    if (this.authorization) headers.Authorization = this.authorization;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`timeout after ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    timer.unref();
    try {
      const init: RequestInit & { duplex?: string } = { method, headers, signal: ctl.signal, redirect: 'follow' };
      if (o.body) {
        init.body = o.body as unknown as RequestInit['body'];
        init.duplex = 'half';
        // A body being sent may take longer than the header timeout; the upload drives it.
        clearTimeout(timer);
      }
      return await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { message?: string; code?: string } }).cause;
      const why = ctl.signal.aborted ? `${messageOf(ctl.signal.reason)}` : (cause?.message ?? messageOf(err));
      throw internal(`${method === 'HEAD' ? 'Head' : method === 'GET' ? 'Get' : method[0] + method.slice(1).toLowerCase()} "${url}": ${why}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Answers a challenge; false when there is nothing to answer it with. */
  private async authenticate(header: string, access: 'pull' | 'push'): Promise<boolean> {
    const ch = parseChallenge(header);
    if (!ch) return false;
    const basic = this.creds.username ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64')}` : undefined;
    if (ch.scheme === 'basic') {
      if (!basic || this.authorization === basic) return false;
      this.authorization = basic;
      return true;
    }
    if (ch.scheme !== 'bearer' || !ch.params.realm) return false;
    if (this.authorizedFor === access || (this.authorizedFor === 'push' && access === 'pull')) return false;
    const realm = new URL(ch.params.realm);
    if (ch.params.service) realm.searchParams.set('service', ch.params.service);
    realm.searchParams.set('scope', ch.params.scope ?? `repository:${this.ref.path}:${access === 'push' ? 'pull,push' : 'pull'}`);
    const headers: Record<string, string> = { 'User-Agent': 'berth' };
    if (basic) headers.Authorization = basic;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.opts.timeoutMs);
    timer.unref();
    try {
      const res = await fetch(realm, { headers, signal: ctl.signal });
      const text = await res.text();
      if (text.length > MAX_TOKEN_BYTES) throw internal('token server answered too much');
      if (!res.ok) throw permissionDenied(`unauthorized: token server answered ${res.status} ${res.statusText}`);
      const body = JSON.parse(text) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      if (!token) throw internal('token server answered no token');
      this.authorization = `Bearer ${token}`;
      this.authorizedFor = access;
      return true;
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw internal(`Get "${realm.origin}${realm.pathname}": ${messageOf(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET /v2/ with the credentials: the login check. */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/');
    await res.body?.cancel();
    if (res.status === 401) throw permissionDenied(`login attempt to ${this.base}/v2/ failed with status: ${res.status} ${res.statusText || 'Unauthorized'}`);
    if (!res.ok) throw internal(`login attempt to ${this.base}/v2/ failed with status: ${res.status} ${res.statusText}`);
  }

  /** Fetches a manifest by tag or digest, size-bounded; the caller verifies its digest. */
  async manifest(tagOrDigest: string, familiar: string): Promise<{ bytes: Buffer; mediaType: string; headerDigest: string }> {
    const res = await this.request('GET', this.repoPath(`/manifests/${tagOrDigest}`), { headers: { Accept: MANIFEST_ACCEPT.join(', ') } });
    if (!res.ok) {
      const e = await errorText(res);
      if (res.status === 404) throw new RegistryError('not_found', `manifest for ${familiar} not found: ${e.message}`, res.status, e.code);
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError('not_found', `pull access denied for ${familiarRepo(this.ref)}, repository does not exist or may require 'docker login': ${e.message}`, res.status, e.code);
      }
      throw new RegistryError('internal', `error pulling manifest for ${familiar}: ${e.message}`, res.status, e.code);
    }
    const bytes = await readBounded(res, MAX_MANIFEST_FETCH_BYTES, `manifest for ${familiar}`, this.opts.timeoutMs);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType, headerDigest: res.headers.get('docker-content-digest') ?? '' };
  }

  /** Every tag of the repository (`GET /v2/<name>/tags/list`, following `Link` pages). */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = this.repoPath('/tags/list?n=1000');
    for (let pages = 0; path && pages < 100; pages++) {
      const res = await this.request('GET', path);
      if (!res.ok) {
        const e = await errorText(res);
        throw new RegistryError(res.status === 404 ? 'not_found' : 'internal', `error listing tags of ${familiarRepo(this.ref)}: ${e.message}`, res.status, e.code);
      }
      const body = JSON.parse((await readBounded(res, MAX_MANIFEST_FETCH_BYTES, 'tag list', this.opts.timeoutMs)).toString('utf8')) as { tags?: string[] | null };
      out.push(...(body.tags ?? []).filter((t) => typeof t === 'string'));
      const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
      path = link ? new URL(link[1]!, this.base).toString() : undefined;
    }
    return out;
  }

  /** Starts a blob download at an offset; the body is the caller's to read and verify. */
  async blob(digest: string): Promise<Response> {
    const res = await this.request('GET', this.repoPath(`/blobs/${digest}`));
    if (!res.ok) {
      const e = await errorText(res);
      throw new RegistryError(res.status === 404 ? 'not_found' : 'internal', `error fetching blob ${digest}: ${e.message}`, res.status, e.code);
    }
    return res;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', this.repoPath(`/blobs/${digest}`), { push: true });
    await res.body?.cancel();
    if (res.status === 404) return false;
    if (res.ok) return true;
    throw this.pushError(res.status, res.statusText);
  }

  /** Asks the registry to mount a blob from another repository; true when it did. */
  async mount(digest: string, from: string): Promise<boolean> {
    const res = await this.request('POST', this.repoPath(`/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`), {
      push: true,
      idempotent: false,
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    if (res.status === 202) {
      // It opened an upload instead; cancel it, a fresh one follows.
      const loc = res.headers.get('location');
      if (loc) await this.request('DELETE', this.url(this.resolveLocation(loc)), { push: true }).then((r) => r.body?.cancel(), () => undefined);
      return false;
    }
    if (res.status === 401 || res.status === 403) throw this.pushError(res.status, res.statusText);
    return false;
  }

  /** Monolithic upload: POST for a session, then one PUT with the whole blob and its digest. */
  async upload(digest: string, size: number, body: () => AsyncIterable<Uint8Array>): Promise<void> {
    const start = await this.request('POST', this.repoPath('/blobs/uploads/'), { push: true, idempotent: false });
    await start.body?.cancel();
    if (start.status !== 202) throw this.pushError(start.status, start.statusText);
    const loc = start.headers.get('location');
    if (!loc) throw internal('registry opened an upload without a Location');
    const u = new URL(this.resolveLocation(loc), this.base);
    u.searchParams.set('digest', digest);
    const put = await this.request('PUT', u.toString(), {
      push: true,
      idempotent: false,
      body: body(),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    });
    if (put.status !== 201) {
      const e = await errorText(put);
      throw internal(`error uploading blob ${digest}: ${e.message}`);
    }
    await put.body?.cancel();
  }

  async putManifest(tag: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', this.repoPath(`/manifests/${tag}`), {
      push: true,
      idempotent: false,
      body: bytes,
      headers: { 'Content-Type': mediaType },
    });
    if (res.status !== 201) {
      const e = await errorText(res);
      if (res.status === 401 || res.status === 403) throw this.pushError(res.status, res.statusText);
      throw internal(`error putting manifest for ${familiarRepo(this.ref)}:${tag}: ${e.message}`);
    }
    await res.body?.cancel();
    return res.headers.get('docker-content-digest') ?? '';
  }

  private resolveLocation(loc: string): string {
    return new URL(loc, this.base).toString();
  }

  private pushError(status: number, text: string): BerthError {
    if (status === 401 || status === 403) return permissionDenied('denied: requested access to the resource is denied');
    return internal(`registry answered ${status} ${text}`);
  }
}

function familiarRepo(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  return ref.path.replace(/^library\//, '');
}

/** Reads a whole body, refusing more than `max` bytes and a body that stalls. */
export async function readBounded(res: Response, max: number, what: string, idleMs: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? -1);
  if (declared > max) {
    await res.body?.cancel();
    throw invalidArgument(`${what} is too large (${declared} bytes, at most ${max})`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const c of withIdleTimeout(res.body, idleMs, what)) {
    n += c.length;
    if (n > max) throw invalidArgument(`${what} is too large (more than ${max} bytes)`);
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

/** Iterates a body, failing when no chunk arrives for `idleMs` (a registry that hangs). */
export async function* withIdleTimeout(body: ReadableStream<Uint8Array>, idleMs: number, what: string): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(internal(`reading ${what}: no data for ${idleMs} ms`)), idleMs);
        timer.unref();
      });
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await Promise.race([reader.read(), timeout]);
      } catch (err) {
        if (err instanceof BerthError) throw err;
        throw internal(`reading ${what}: ${messageOf((err as { cause?: unknown }).cause ?? err)}`);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
