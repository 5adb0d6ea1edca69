import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * A real registry (Debian's docker-registry, distribution v2) on loopback with storage in a
 * temp dir; with `auth`, it wants HTTP basic credentials checked against a bcrypt htpasswd.
 */
export class LocalRegistry {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly proc: ChildProcess,
    readonly auth: { user: string; password: string } | undefined,
  ) {}

  /** `localhost:<port>`: insecure by default, like Docker. */
  get host(): string {
    return `localhost:${this.port}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(auth?: { user: string; password: string }): Promise<LocalRegistry> {
    const dir = mkdtempSync('/tmp/berth-registry-');
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
    ];
    if (auth) {
      const entry = execFileSync('htpasswd', ['-Bbn', auth.user, auth.password]).toString().trim();
      writeFileSync(join(dir, 'htpasswd'), `${entry}\n`);
      lines.push(`auth: { htpasswd: { realm: berth-test, path: ${join(dir, 'htpasswd')} } }`);
    }
    writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
    const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const reg = new LocalRegistry(dir, port, proc, auth);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`${reg.url}/v2/`);
        if (res.status === 200 || res.status === 401) break;
      } catch {
        // not listening yet
      }
      if (proc.exitCode !== null || Date.now() > deadline) {
        await reg.stop();
        throw new Error(`registry did not start: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return reg;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    if (!this.auth) return extra;
    return { ...extra, Authorization: `Basic ${Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64')}` };
  }

  async putBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const head = await fetch(`${this.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: this.headers() });
    if (head.status === 200) return digest;
    const start = await fetch(`${this.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: this.headers() });
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const loc = new URL(start.headers.get('location')!, this.url);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: data, headers: this.headers({ 'Content-Type': 'application/octet-stream' }) });
    if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
    return digest;
  }

  async putManifest(repo: string, ref: string, doc: unknown, mediaType: string): Promise<{ digest: string; size: number }> {
    const body = Buffer.from(JSON.stringify(doc));
    const res = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: this.headers({ 'Content-Type': mediaType }) });
    if (res.status !== 201) throw new Error(`manifest: ${res.status} ${await res.text()}`);
    return { digest: sha256(body), size: body.length };
  }

  async getManifest(repo: string, ref: string): Promise<{ status: number; digest: string; body: string }> {
    const res = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`, {
      headers: this.headers({ Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json' }),
    });
    return { status: res.status, digest: res.headers.get('docker-content-digest') ?? '', body: await res.text() };
  }

  /**
   * Pushes an image from a `docker save` tarball the way a client would: blobs, then a
   * manifest (Docker schema2 with gzip layers, or OCI with the layers as they are), optionally
   * wrapped in an index that also lists another platform.
   */
  async pushArchive(archive: string, repo: string, tag: string, o: { gzip?: boolean; index?: boolean } = {}): Promise<PushedImage> {
    const tmp = mkdtempSync('/tmp/berth-push-');
    try {
      execFileSync('tar', ['-xf', archive, '-C', tmp]);
      const item = (JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[])[0]!;
      const config = readFileSync(join(tmp, item.Config));
      const configDigest = await this.putBlob(repo, config);
      const layers = [];
      for (const l of item.Layers) {
        const raw = readFileSync(join(tmp, l));
        const data = o.gzip ? gzipSync(raw) : raw;
        layers.push({
          mediaType: o.gzip ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar',
          digest: await this.putBlob(repo, data),
          size: data.length,
        });
      }
      const mediaType = o.gzip ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
      const manifest = {
        schemaVersion: 2,
        mediaType,
        config: { mediaType: o.gzip ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers,
      };
      const m = await this.putManifest(repo, o.index ? sha256(Buffer.from(JSON.stringify(manifest))) : tag, manifest, mediaType);
      let top = m.digest;
      if (o.index) {
        const indexType = o.gzip ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json';
        // The other platform's entry points at the same manifest: selection must pick by platform, not by position.
        const index = {
          schemaVersion: 2,
          mediaType: indexType,
          manifests: [
            { mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
            { mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: 'amd64' } },
          ],
        };
        top = (await this.putManifest(repo, tag, index, indexType)).digest;
      }
      return { imageId: configDigest, manifestDigest: m.digest, digest: top, layers };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = once(this.proc, 'exit');
      this.proc.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PushedImage {
  imageId: string;
  manifestDigest: string;
  /** What `docker pull` prints as Digest: the index's when there is one. */
  digest: string;
  layers: { mediaType: string; digest: string; size: number }[];
}
