import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { BerthError, isFailedPrecondition, isNotFound, kindOf, messageOf } from '@berth/errors';
import { chainIds, familiarName, formatReference, isDigest, parseReference } from '@berth/reference';
import type { BlobWriter, ContentStore } from './content-store';
import { MANIFEST_TYPES, MAX_MANIFEST_BYTES, type ImageStore } from './image-store';
import type { Leases } from './leases';
import { type LayerSnapshots, unpackImage } from './unpack';
import { OCI_INDEX, OCI_MANIFEST } from './oci-media';

/**
 * The OCI Distribution API served from the content store, so that another Berth host or
 * Docker itself can `docker pull <this-host>:<port>/name:tag` and push to it. Repository
 * names map onto this host's own image names: `/v2/busybox/manifests/latest` is the local
 * `busybox:latest`, `/v2/me/app/...` is `me/app`. A pushed image is unpacked before it is
 * recorded, so it can run here at once. It is off unless an address is configured, and
 * has no authentication: bind it to an address only trusted clients reach.
 */
export interface RegistryServerDeps {
  content: ContentStore;
  images: ImageStore;
  snaps: LayerSnapshots;
  leases: Leases;
  onPush?: (id: string, name: string) => void;
}

const NAME = '((?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)';
const ROUTE = new RegExp(`^/v2/${NAME}/(manifests|blobs|blobs/uploads)/([^/?]*)$`);
/** Upload sessions idle for this long are dropped with their ingest files. */
const UPLOAD_IDLE_MS = 10 * 60_000;

interface Upload {
  writer: BlobWriter;
  size: number;
  touched: number;
  release: () => void;
}

function ociError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/**
 * Reads a body of at most `max` bytes. A larger one is refused, but what the client still sends
 * is drained (up to four times the limit) so that it reads the answer rather than a reset.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      reject(new BerthError('invalid_argument', `body larger than ${max} bytes`));
    };
    if (Number(req.headers['content-length'] ?? -1) > max) refuse();
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > 4 * max) return void req.destroy();
      if (refused) return;
      if (n > max) return refuse();
      chunks.push(c);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!refused) reject(err);
    });
  });
}

export class RegistryServer {
  private readonly server: Server;
  private readonly uploads = new Map<string, Upload>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly d: RegistryServerDeps) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        ociError(res, kindOf(err) === 'invalid_argument' ? 400 : 500, 'UNKNOWN', messageOf(err));
      });
    });
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Listens on `host:port`; resolves with the port actually bound (for port 0). */
  listen(address: string): Promise<number> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i) || '0.0.0.0';
    const port = Number(address.slice(i + 1));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as { port: number }).port));
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const u of this.uploads.values()) {
      u.release();
      await u.writer.abort();
    }
    this.uploads.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, u] of this.uploads) {
      if (now - u.touched > UPLOAD_IDLE_MS) {
        this.uploads.delete(id);
        u.release();
        void u.writer.abort();
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const url = new URL(req.url ?? '/', 'http://registry');
    if (url.pathname === '/v2/' || url.pathname === '/v2') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    const m = ROUTE.exec(url.pathname);
    if (!m) return ociError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    const method = req.method ?? 'GET';
    if (kind === 'manifests' && (method === 'GET' || method === 'HEAD')) return this.getManifest(name, ref, method, res);
    if (kind === 'manifests' && method === 'PUT') return this.putManifest(name, ref, req, res);
    if (kind === 'blobs' && (method === 'GET' || method === 'HEAD')) return this.getBlob(ref, method, res);
    if (kind === 'blobs/uploads') return this.upload(name, ref, method, url, req, res);
    ociError(res, 405, 'UNSUPPORTED', `${method} is not supported here`);
  }

  private findManifest(name: string, ref: string): string | undefined {
    if (isDigest(ref)) return this.d.content.has(ref) ? ref : undefined;
    try {
      return this.d.images.get(formatReference(parseReference(`${name}:${ref}`))).manifestDigest;
    } catch (err) {
      if (isNotFound(err) || kindOf(err) === 'invalid_argument') return undefined;
      throw err;
    }
  }

  private async getManifest(name: string, ref: string, method: string, res: ServerResponse): Promise<void> {
    const digest = this.findManifest(name, ref);
    if (!digest) return ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    const info = this.d.content.stat(digest);
    if (info.size > MAX_MANIFEST_BYTES) return ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    const chunks: Buffer[] = [];
    for await (const c of this.d.content.read(digest)) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let mediaType = OCI_MANIFEST;
    try {
      const doc = JSON.parse(body.toString('utf8')) as { mediaType?: string; config?: unknown; manifests?: unknown };
      if (!doc.config && !doc.manifests) throw new Error('not a manifest');
      mediaType = doc.mediaType ?? (doc.manifests ? OCI_INDEX : OCI_MANIFEST);
    } catch {
      return ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    }
    res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': body.length, 'Docker-Content-Digest': digest, ETag: `"${digest}"` });
    res.end(method === 'HEAD' ? undefined : body);
  }

  private getBlob(digest: string, method: string, res: ServerResponse): void {
    if (!isDigest(digest) || !this.d.content.has(digest)) return ociError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    const info = this.d.content.stat(digest);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': info.size, 'Docker-Content-Digest': digest });
    if (method === 'HEAD') return void res.end();
    const stream = this.d.content.read(digest) as NodeJS.ReadableStream & { destroy(): void };
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  }

  private async upload(name: string, id: string, method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (method === 'POST' && id === '') {
      const mount = url.searchParams.get('mount');
      if (mount && isDigest(mount) && this.d.content.has(mount)) {
        res.writeHead(201, { Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount, 'Content-Length': 0 });
        return void res.end();
      }
      const uuid = randomUUID();
      const writer = await this.d.content.writerUnverified();
      const upload: Upload = { writer, size: 0, touched: Date.now(), release: () => undefined };
      this.uploads.set(uuid, upload);
      const digest = url.searchParams.get('digest');
      if (digest) {
        // Monolithic upload in the POST itself.
        await this.append(upload, req);
        return this.finish(name, uuid, upload, digest, res);
      }
      res.writeHead(202, { Location: `/v2/${name}/blobs/uploads/${uuid}`, 'Docker-Upload-UUID': uuid, Range: '0-0', 'Content-Length': 0 });
      return void res.end();
    }
    const upload = this.uploads.get(id);
    if (!upload) return ociError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    upload.touched = Date.now();
    if (method === 'PATCH') {
      await this.append(upload, req);
      res.writeHead(202, { Location: `/v2/${name}/blobs/uploads/${id}`, 'Docker-Upload-UUID': id, Range: `0-${Math.max(0, upload.size - 1)}`, 'Content-Length': 0 });
      return void res.end();
    }
    if (method === 'PUT') {
      await this.append(upload, req);
      return this.finish(name, id, upload, url.searchParams.get('digest') ?? '', res);
    }
    if (method === 'DELETE') {
      this.uploads.delete(id);
      await upload.writer.abort();
      return void res.writeHead(204).end();
    }
    if (method === 'GET') {
      res.writeHead(204, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: `0-${Math.max(0, upload.size - 1)}`, 'Docker-Upload-UUID': id });
      return void res.end();
    }
    ociError(res, 405, 'UNSUPPORTED', `${method} is not supported here`);
  }

  private async append(u: Upload, req: IncomingMessage): Promise<void> {
    for await (const c of req) {
      await u.writer.write(c as Buffer);
      u.size += (c as Buffer).length;
    }
  }

  private async finish(name: string, id: string, u: Upload, digest: string, res: ServerResponse): Promise<void> {
    this.uploads.delete(id);
    if (!isDigest(digest)) {
      await u.writer.abort();
      return ociError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
    }
    try {
      await u.writer.commit(digest);
    } catch (err) {
      if (isFailedPrecondition(err)) return ociError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
      throw err;
    }
    // Until a manifest names it, the blob is only held by this lease (released after a while).
    const release = this.d.leases.hold([digest]);
    setTimeout(release, UPLOAD_IDLE_MS).unref();
    res.writeHead(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    res.end();
  }

  private async putManifest(name: string, tag: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_MANIFEST_BYTES);
    } catch {
      return ociError(res, 400, 'SIZE_INVALID', 'manifest too large');
    }
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (isDigest(tag) && tag !== digest) return ociError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
    let doc: { schemaVersion?: number; mediaType?: string; config?: { digest?: string }; layers?: { digest: string; size: number; mediaType: string }[] };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      return ociError(res, 400, 'MANIFEST_INVALID', 'manifest invalid');
    }
    const mediaType = doc.mediaType ?? (req.headers['content-type'] ?? OCI_MANIFEST).split(';')[0]!;
    if (doc.schemaVersion !== 2 || !MANIFEST_TYPES.has(mediaType) || !doc.config?.digest || !Array.isArray(doc.layers)) {
      return ociError(res, 400, 'MANIFEST_INVALID', `manifest invalid: only image manifests (${[...MANIFEST_TYPES].join(', ')}) can be pushed here`);
    }
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
      if (!isDigest(d) || !this.d.content.has(d)) return ociError(res, 400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d}`);
    }
    const release = this.d.leases.hold([digest, doc.config.digest, ...doc.layers.map((l) => l.digest)]);
    const chainRelease: (() => void)[] = [];
    try {
      const chunks: Buffer[] = [];
      for await (const c of this.d.content.read(doc.config.digest)) chunks.push(c as Buffer);
      const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
      const diffIds = cfg.rootfs?.diff_ids ?? [];
      if (diffIds.length !== doc.layers.length || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
        return ociError(res, 400, 'MANIFEST_INVALID', 'manifest invalid: config diff_ids do not match the layers');
      }
      const releaseChain = this.d.leases.hold(chainIds(diffIds));
      chainRelease.push(releaseChain);
      // Unpacked before it is recorded: a listed image can always run.
      await unpackImage({ diffIds, layers: doc.layers }, this.d.content, this.d.snaps);
      await this.d.content.put(body, digest);
      const tags = isDigest(tag) ? [] : [formatReference(parseReference(`${name}:${tag}`))];
      const img = await this.d.images.put(digest, tags);
      this.d.onPush?.(img.id, tags[0] ? familiarName(parseReference(tags[0])) : img.id);
    } finally {
      release();
      for (const r of chainRelease) r();
    }
    res.writeHead(201, { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    res.end();
  }
}
