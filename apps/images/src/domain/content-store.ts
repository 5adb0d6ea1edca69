import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, invalidArgument, notFound } from '@berth/errors';
import { isDigest } from '@berth/reference';
import { Leases } from './leases';

export interface BlobInfo {
  digest: string;
  size: number;
  path: string;
}

/**
 * Blobs by digest. A write goes to a private ingest file and becomes visible under its digest
 * only after the bytes were verified and synced, so no reader ever sees a half-written or
 * wrong blob, and a crash leaves only ingest files, which start-up removes.
 */
export class ContentStore {
  /** Blobs (and layer snapshots) that work in progress holds against garbage collection. */
  readonly leases = new Leases();
  private readonly blobs: string;
  private readonly ingest: string;

  constructor(readonly root: string) {
    this.blobs = join(root, 'blobs', 'sha256');
    this.ingest = join(root, 'ingest');
  }

  reconcile(): void {
    mkdirSync(this.blobs, { recursive: true });
    rmSync(this.ingest, { recursive: true, force: true });
    mkdirSync(this.ingest, { recursive: true });
  }

  path(digest: string): string {
    if (!isDigest(digest)) throw invalidArgument(`invalid digest: ${digest}`);
    return join(this.blobs, digest.slice('sha256:'.length));
  }

  stat(digest: string): BlobInfo {
    const path = this.path(digest);
    try {
      return { digest, size: statSync(path).size, path };
    } catch {
      throw notFound(`blob ${digest} not found`);
    }
  }

  has(digest: string): boolean {
    try {
      this.stat(digest);
      return true;
    } catch {
      return false;
    }
  }

  list(): string[] {
    return readdirSync(this.blobs).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Starts a verified write. `expectedSize` < 0 means unknown. */
  async writer(expectedDigest: string, expectedSize = -1): Promise<BlobWriter> {
    if (!isDigest(expectedDigest)) throw invalidArgument(`invalid digest: ${expectedDigest}`);
    const tmp = join(this.ingest, randomBytes(8).toString('hex'));
    const fh = await open(tmp, 'wx', 0o644);
    return new BlobWriter(fh, tmp, this.path(expectedDigest), expectedDigest, expectedSize);
  }

  /** A write whose digest is learnt from the bytes (legacy archives name layers by path only). */
  async writerUnverified(): Promise<BlobWriter> {
    const tmp = join(this.ingest, randomBytes(8).toString('hex'));
    const fh = await open(tmp, 'wx', 0o644);
    return new BlobWriter(fh, tmp, '', '', -1, (d) => this.path(d));
  }

  /** Stores bytes held in memory (configs, manifests). */
  async put(data: Uint8Array, digest = `sha256:${createHash('sha256').update(data).digest('hex')}`): Promise<BlobInfo> {
    if (this.has(digest)) return this.stat(digest);
    const w = await this.writer(digest, data.length);
    await w.write(data);
    return w.commit();
  }

  read(digest: string, offset = 0): NodeJS.ReadableStream {
    const path = this.stat(digest).path;
    return createReadStream(path, { start: offset, highWaterMark: 1 << 20 });
  }

  delete(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }
}

export class BlobWriter {
  private readonly hash = createHash('sha256');
  private size = 0;
  private done = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly target: string,
    private readonly digest: string,
    private readonly expectedSize: number,
    /** Set for unverified writes: the target is named by the digest of what was written. */
    private readonly targetFor?: (digest: string) => string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.size += chunk.length;
    if (this.expectedSize >= 0 && this.size > this.expectedSize) {
      await this.abort();
      throw failedPrecondition(`blob ${this.digest} is larger than its declared size ${this.expectedSize}`);
    }
    this.hash.update(chunk);
    let off = 0;
    while (off < chunk.length) off += (await this.fh.write(chunk, off)).bytesWritten;
  }

  /** `expect` checks an unverified write against a digest learnt only at the end (a registry upload). */
  async commit(expect?: string): Promise<BlobInfo> {
    const got = `sha256:${this.hash.digest('hex')}`;
    if (expect !== undefined && got !== expect) {
      await this.abort();
      throw failedPrecondition(`digest mismatch: expected ${expect}, got ${got}`);
    }
    if (this.expectedSize >= 0 && this.size !== this.expectedSize) {
      await this.abort();
      throw failedPrecondition(`blob ${this.digest}: got ${this.size} bytes, expected ${this.expectedSize}`);
    }
    if (!this.targetFor && got !== this.digest) {
      await this.abort();
      throw failedPrecondition(`digest mismatch: expected ${this.digest}, got ${got}`);
    }
    await this.fh.sync();
    await this.fh.close();
    this.done = true;
    const target = this.targetFor ? this.targetFor(got) : this.target;
    await rename(this.tmp, target);
    return { digest: got, size: this.size, path: target };
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
