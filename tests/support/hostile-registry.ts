import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { sha256 } from './registry';

/** How the hostile registry misbehaves for a repository. */
export type Misbehaviour =
  | 'good'
  /** The layer's bytes are not the ones its digest names (same length). */
  | 'bad-digest'
  /** The layer's body stops halfway and the connection drops. */
  | 'truncated'
  /** The manifest is far larger than any real one. */
  | 'huge-manifest'
  /** The manifest is not JSON. */
  | 'garbage'
  /** The layer trickles out slowly (to kill things mid-pull). */
  | 'slow'
  /** Every blob fails once with 503 before it is served (retries with backoff). */
  | 'flaky'
  /** Wants a Bearer token from /token, which it gives for basic credentials berth:s3cret. */
  | 'token'
  /** The layer (digest and diff ID right) holds an entry `../../escaped.txt`. */
  | 'escape';

export const TOKEN_USER = 'berth';
export const TOKEN_PASSWORD = 's3cret';
const GOOD_TOKEN = 'good-token';

/**
 * A registry on loopback that serves one image (from a `docker save` tarball) and misbehaves
 * in the way the repository name asks for: `localhost:<port>/<misbehaviour>/img:latest`.
 * It counts blob downloads, so tests can see that concurrent pulls share one.
 */
interface Served {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
}

/**
 * A registry on loopback that misbehaves the way the repository name asks for:
 * `localhost:<port>/<misbehaviour>/img:<tag>`. Each repository and tag serves an image of its
 * own (busybox's config over one layer of random bytes), so no test finds its layer already
 * unpacked by another. It counts blob downloads, so tests can see that concurrent pulls
 * share one.
 */
export class HostileRegistry {
  readonly blobGets = new Map<string, number>();
  /** Set to false to let a `slow` repository serve at full speed. */
  slow = true;
  private readonly images = new Map<string, Served>();
  private readonly blobs = new Map<string, Buffer>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly baseConfig: Record<string, unknown>,
  ) {}

  get host(): string {
    return `localhost:${this.port}`;
  }

  static async start(archive: string): Promise<HostileRegistry> {
    const tmp = mkdtempSync('/tmp/berth-hostile-');
    let config: Record<string, unknown>;
    try {
      execFileSync('tar', ['-xf', archive, '-C', tmp]);
      const item = (JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8')) as { Config: string }[])[0]!;
      config = JSON.parse(readFileSync(join(tmp, item.Config), 'utf8')) as Record<string, unknown>;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    let self: HostileRegistry | undefined;
    const server = createServer((req, res) => self!.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    self = new HostileRegistry(server, (server.address() as { port: number }).port, config);
    return self;
  }

  /** The image served for a repository and tag, made on first use. */
  image(mode: string, tag: string): Served {
    const key = `${mode}:${tag}`;
    let img = this.images.get(key);
    if (!img) {
      const tmp = mkdtempSync('/tmp/berth-hostile-layer-');
      try {
        mkdirSync(join(tmp, 'data'));
        writeFileSync(join(tmp, 'data', 'random.bin'), randomBytes(1536 << 10));
        if (mode === 'escape') {
          const py = `import tarfile,io\nt=tarfile.open('${join(tmp, 'layer.tar')}','w',format=tarfile.USTAR_FORMAT)\ni=tarfile.TarInfo('../../escaped.txt');i.size=1;i.mtime=0\nt.addfile(i,io.BytesIO(b'x'))\nt.close()`;
          execFileSync('python3', ['-c', py]);
        } else {
          execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', join(tmp, 'layer.tar'), '-C', tmp, 'data']);
        }
        const layer = readFileSync(join(tmp, 'layer.tar'));
        const config = Buffer.from(JSON.stringify({ ...this.baseConfig, rootfs: { type: 'layers', diff_ids: [sha256(layer)] }, history: [] }));
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
          }),
        );
        img = { config, layer, manifest };
        this.images.set(key, img);
        this.blobs.set(sha256(config), config);
        this.blobs.set(sha256(layer), layer);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    return img;
  }

  layerDigest(mode: string, tag: string): string {
    return sha256(this.image(mode, tag).layer);
  }

  private challenge(res: ServerResponse): void {
    res.writeHead(401, {
      'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${this.port}/token",service="hostile",scope="repository:token/img:pull"`,
      'Content-Type': 'application/json',
    });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const bearer = req.headers.authorization === `Bearer ${GOOD_TOKEN}`;
    if (url.startsWith('/token?')) {
      const basic = `Basic ${Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')}`;
      if (req.headers.authorization && req.headers.authorization !== basic) return void res.writeHead(401).end();
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: req.headers.authorization ? GOOD_TOKEN : 'anonymous' }));
    }
    // Like a token registry, /v2/ itself wants a token (login checks credentials there).
    if (url === '/v2/') return bearer ? void res.end('{}') : this.challenge(res);
    const m = /^\/v2\/([\w-]+)\/img\/(manifests|blobs)\/(.+)$/.exec(url);
    if (!m) return void res.writeHead(404).end();
    const mode = m[1] as Misbehaviour;
    if (mode === 'token' && !bearer) return this.challenge(res);
    if (m[2] === 'manifests') {
      res.setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json');
      if (mode === 'huge-manifest') {
        res.setHeader('Content-Length', String(8 << 20));
        res.end(Buffer.alloc(8 << 20, 0x20));
        return;
      }
      if (mode === 'garbage') return void res.end('<html>not a manifest</html>');
      const img = this.image(mode, m[3]!);
      res.setHeader('Docker-Content-Digest', sha256(img.manifest));
      return void res.end(req.method === 'HEAD' ? undefined : img.manifest);
    }
    const digest = m[3]!;
    const gets = (this.blobGets.get(digest) ?? 0) + 1;
    this.blobGets.set(digest, gets);
    if (mode === 'flaky' && gets === 1) return void res.writeHead(503).end();
    const blob = this.blobs.get(digest);
    if (!blob) return void res.writeHead(404).end();
    res.setHeader('Content-Length', String(blob.length));
    if (blob.length < 64 << 10) return void res.end(blob);
    if (mode === 'bad-digest') {
      const wrong = Buffer.from(blob);
      wrong[wrong.length - 1] = wrong[wrong.length - 1]! ^ 0xff;
      return void res.end(wrong);
    }
    if (mode === 'truncated') {
      res.write(blob.subarray(0, blob.length >> 1), () => res.destroy());
      return;
    }
    if (mode === 'slow') {
      let off = 0;
      const step = () => {
        if (res.destroyed) return;
        if (!this.slow) return void res.end(blob.subarray(off));
        const next = Math.min(blob.length, off + (64 << 10));
        res.write(blob.subarray(off, next));
        off = next;
        if (off >= blob.length) return void res.end();
        setTimeout(step, 100);
      };
      step();
      return;
    }
    res.end(blob);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
  }
}
