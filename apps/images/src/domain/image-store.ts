import { conflict, failedPrecondition, invalidArgument, notFound } from '@berth/errors';
import { familiarName, formatReference, parseReference, type Reference } from '@berth/reference';
import { RecordStore } from '@berth/store';
import type { ContentStore } from './content-store';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ImageRecord {
  /** Image ID: `sha256:` digest of the config blob. */
  id: string;
  manifestDigest: string;
  /** Fully qualified tags, e.g. `docker.io/library/busybox:latest`. */
  repoTags: string[];
  repoDigests: string[];
  diffIds: string[];
  layers: Descriptor[];
  createdUnixMs: number;
  /** When the record was made here (orders `docker images`). */
  recordedUnixMs: number;
  /** The image this one was committed on (a build step's parent); absent for pulled images. */
  parent?: string;
}

export const MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
]);
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface ManifestDoc {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
}

interface ConfigDoc {
  created?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
}

/**
 * Image records, keyed by image ID, each pointing at a manifest in the content store. Tags are
 * unique: tagging moves a tag from whichever image had it.
 */
export class ImageStore {
  constructor(
    private readonly records: RecordStore<ImageRecord>,
    private readonly content: ContentStore,
  ) {}

  /** Drops records whose manifest or config blob is gone (a crash mid-delete). */
  reconcile(): string[] {
    const dropped: string[] = [];
    for (const r of this.records.values()) {
      if (!this.content.has(r.manifestDigest) || !this.content.has(r.id)) {
        this.records.delete(hex(r.id));
        dropped.push(r.id);
      }
    }
    return dropped;
  }

  list(): ImageRecord[] {
    return this.records.values().sort((a, b) => b.createdUnixMs - a.createdUnixMs);
  }

  /** Resolves an ID, ID prefix, tag or digest reference, Docker's way. */
  get(ref: string): ImageRecord {
    const all = this.records.values();
    const id = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
    const exact = all.find((r) => r.id === id);
    if (exact) return exact;
    let parsed: Reference | undefined;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      const full = formatReference(parsed);
      const hit = parsed.digest
        ? all.find((r) => r.repoDigests.includes(full) || (r.manifestDigest === parsed!.digest))
        : all.find((r) => r.repoTags.includes(full));
      if (hit) return hit;
    }
    if (/^[a-f0-9]{1,64}$/.test(ref.replace(/^sha256:/, ''))) {
      const matches = all.filter((r) => r.id.startsWith(id));
      if (matches.length === 1) return matches[0]!;
    }
    throw notFound(`No such image: ${parsed && !/^[a-f0-9]{64}$/.test(ref) ? familiarName(parsed) : ref}`);
  }

  /**
   * Records an image from a manifest already in the content store. A pull passes
   * `layerBlobsNeeded` false: layers it found already unpacked were never downloaded.
   */
  async put(manifestDigest: string, tags: string[], now = Date.now(), layerBlobsNeeded = true, parent = ''): Promise<ImageRecord> {
    const info = this.content.stat(manifestDigest);
    if (info.size > MAX_MANIFEST_BYTES) throw invalidArgument(`manifest ${manifestDigest} is too large`);
    const manifest = parseJson<ManifestDoc>(await readAll(this.content.read(manifestDigest)), 'manifest');
    const mediaType = manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    if (manifest.schemaVersion !== 2 || !MANIFEST_TYPES.has(mediaType) || !manifest.config || !Array.isArray(manifest.layers)) {
      throw invalidArgument(`unsupported manifest ${manifestDigest} (${mediaType})`);
    }
    const configDigest = manifest.config.digest;
    if (!this.content.has(configDigest)) throw failedPrecondition(`config blob ${configDigest} is missing`);
    for (const l of manifest.layers) {
      if (layerBlobsNeeded && !this.content.has(l.digest)) throw failedPrecondition(`layer blob ${l.digest} is missing`);
    }
    const config = parseJson<ConfigDoc>(await readAll(this.content.read(configDigest)), 'image config');
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw invalidArgument(`image config has ${diffIds.length} diff_ids but the manifest has ${manifest.layers.length} layers`);
    }
    const fullTags = tags.map((t) => formatReference(parseReference(t)));
    const existing = this.records.get(hex(configDigest));
    const rec: ImageRecord = {
      id: configDigest,
      manifestDigest,
      repoTags: existing?.repoTags ?? [],
      repoDigests: existing?.repoDigests ?? [],
      diffIds,
      layers: manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      createdUnixMs: config.created ? Date.parse(config.created) || 0 : 0,
      recordedUnixMs: existing?.recordedUnixMs ?? now,
      ...(parent || existing?.parent ? { parent: existing?.parent || parent } : {}),
    };
    this.records.put(hex(rec.id), rec);
    for (const t of fullTags) this.addTag(rec.id, t);
    return this.records.get(hex(rec.id))!;
  }

  tag(source: string, target: string): ImageRecord {
    const img = this.get(source);
    const ref = parseReference(target);
    if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    this.addTag(img.id, formatReference(ref));
    return this.records.get(hex(img.id))!;
  }

  /** Records `repo@digest` (what a pull or push learnt); repeating it is a no-op. */
  addRepoDigest(id: string, fullRef: string): ImageRecord {
    const img = this.get(id);
    if (!img.repoDigests.includes(fullRef)) this.records.put(hex(img.id), { ...img, repoDigests: [...img.repoDigests, fullRef] });
    return this.records.get(hex(img.id))!;
  }

  private addTag(id: string, fullTag: string): void {
    for (const other of this.records.values()) {
      if (other.id !== id && other.repoTags.includes(fullTag)) {
        this.records.put(hex(other.id), { ...other, repoTags: other.repoTags.filter((t) => t !== fullTag) });
      }
    }
    const img = this.records.get(hex(id))!;
    if (!img.repoTags.includes(fullTag)) this.records.put(hex(id), { ...img, repoTags: [...img.repoTags, fullTag] });
  }

  /**
   * Docker's `rmi`: a tag reference untags, and deletes the image when that was its last
   * reference; an ID deletes the image, which needs `force` when it has several tags.
   */
  delete(ref: string, force: boolean, prune = false, inUse: ReadonlySet<string> = new Set()): { untagged: string[]; deleted: string[] } {
    const img = this.get(ref);
    const untagged: string[] = [];
    let parsed: Reference | undefined;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    const full = parsed && !parsed.digest ? formatReference(parsed) : undefined;
    if (full && img.repoTags.includes(full)) {
      const rest = img.repoTags.filter((t) => t !== full);
      untagged.push(familiarName(parseReference(full)));
      if (rest.length > 0) {
        this.records.put(hex(img.id), { ...img, repoTags: rest });
        return { untagged, deleted: [] };
      }
    } else if (img.repoTags.length > 1 && !force) {
      throw conflict(
        `conflict: unable to delete ${hex(img.id).slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
      );
    } else {
      if (this.hasChildren(img.id)) throw conflict(`conflict: unable to delete ${hex(img.id).slice(0, 12)} (cannot be forced) - image has dependent child images`);
      for (const t of img.repoTags) untagged.push(familiarName(parseReference(t)));
    }
    // Untagged by name but other images are built on it: it stays, as an intermediate image.
    if (this.hasChildren(img.id)) {
      this.records.put(hex(img.id), { ...img, repoTags: [] });
      return { untagged, deleted: [] };
    }
    for (const d of img.repoDigests) untagged.push(familiarName(parseReference(d)));
    this.records.delete(hex(img.id));
    const deleted = [img.id];
    // dockerd prunes the parents the image leaves untagged and childless, unless asked not to.
    for (let p = prune ? img.parent : undefined; p; ) {
      const parent = this.records.get(hex(p));
      if (!parent || parent.repoTags.length || parent.repoDigests.length || inUse.has(parent.id) || this.hasChildren(parent.id)) break;
      this.records.delete(hex(parent.id));
      deleted.push(parent.id);
      p = parent.parent;
    }
    return { untagged, deleted };
  }

  /** Whether an image is the parent of another (an intermediate image of a build). */
  hasChildren(id: string): boolean {
    for (const r of this.records.values()) if (r.parent === id) return true;
    return false;
  }
}

function hex(id: string): string {
  return id.replace(/^sha256:/, '');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
