import { createHash } from 'node:crypto';
import { BerthError, failedPrecondition, internal, invalidArgument, isNotFound, kindOf, notFound } from '@berth/errors';
import { chainIds, familiarName, formatReference, isDigest, parseReference, type Reference, repositoryName } from '@berth/reference';
import type { ContentStore } from './content-store';
import type { Descriptor, ImageRecord, ImageStore } from './image-store';
import { MANIFEST_TYPES } from './image-store';
import type { Leases } from './leases';
import type { Limiter } from './limiter';
import { type Emit, progressMessage, shortId, throttled } from './progress';
import { type RegistryClient, withIdleTimeout } from './registry-client';
import { type LayerSnapshots, unpackImage } from './unpack';
import { counter } from '@berth/metrics';

const pullBytes = counter('berth_images_pull_bytes_total', 'Bytes of blobs downloaded from registries by pulls.');

export const INDEX_TYPES = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
export const MAX_LAYERS = 256;
const BLOB_ATTEMPTS = 3;
const BLOB_BACKOFF_MS = 300;

export interface PullDeps {
  content: ContentStore;
  images: ImageStore;
  snaps: LayerSnapshots;
  client: (ref: Reference) => RegistryClient;
  downloads: Limiter;
  /** Downloads in flight by blob digest, so that concurrent pulls share one. */
  inflight: Map<string, Promise<void>>;
  timeoutMs: number;
  /** What the pull holds against garbage collection until its image is recorded. */
  leases: Leases;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function hostPlatform(): Platform {
  const arch = ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
  return arch === 'arm' ? { os: 'linux', architecture: arch, variant: 'v7' } : { os: 'linux', architecture: arch };
}

/** `linux/arm64/v8` → a platform; empty → this host's. */
export function parsePlatform(s: string): Platform {
  if (!s) return hostPlatform();
  const [os, architecture, variant] = s.toLowerCase().split('/');
  if (!os || !architecture) throw invalidArgument(`"${s}": unknown operating system or architecture: invalid argument`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  doc: Record<string, unknown>;
}

/** Fetches a manifest and checks its bytes against the digest asked for (or announced). */
async function fetchManifest(client: RegistryClient, tagOrDigest: string, familiar: string): Promise<FetchedManifest> {
  const { bytes, mediaType: header, headerDigest } = await client.manifest(tagOrDigest, familiar);
  const digest = sha256(bytes);
  const expected = isDigest(tagOrDigest) ? tagOrDigest : isDigest(headerDigest) ? headerDigest : '';
  if (expected && expected !== digest) throw failedPrecondition(`manifest verification failed for digest ${expected}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalidArgument(`invalid manifest for ${familiar}: not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidArgument(`invalid manifest for ${familiar}`);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : header;
  return { bytes, mediaType, digest, doc };
}

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object' || typeof o.digest !== 'string' || !isDigest(o.digest) || typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw invalidArgument(`invalid manifest: bad ${what} descriptor`);
  }
  return { mediaType: typeof o.mediaType === 'string' ? o.mediaType : '', digest: o.digest, size: o.size };
}

/** Picks the entry of an index or manifest list for the platform, like Docker. */
export function selectManifest(doc: Record<string, unknown>, p: Platform): Descriptor {
  const entries = Array.isArray(doc.manifests) ? (doc.manifests as { platform?: Partial<Platform>; mediaType?: string }[]) : [];
  const fits = entries.filter(
    (m) =>
      m?.platform?.os === p.os &&
      m.platform.architecture === p.architecture &&
      (!p.variant || !m.platform.variant || m.platform.variant === p.variant) &&
      MANIFEST_TYPES.has(m.mediaType ?? ''),
  );
  // An exact variant beats a missing one.
  const best = fits.find((m) => m.platform?.variant === p.variant) ?? fits[0];
  if (!best) throw notFound(`no matching manifest for ${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''} in the manifest list entries`);
  return descriptor(best, 'manifest');
}

/**
 * Downloads one blob into the content store, verified against its digest and size before
 * it becomes visible. A transient failure (network, truncated body) is retried with backoff;
 * bytes that do not match their digest are not. A download already running for the same
 * digest (another pull) is joined rather than repeated.
 */
export function fetchBlob(deps: PullDeps, client: RegistryClient, d: Descriptor, onBytes: (n: number) => void = () => undefined): Promise<void> {
  if (deps.content.has(d.digest)) return Promise.resolve();
  const running = deps.inflight.get(d.digest);
  if (running) return running;
  const p = (async () => {
    for (let attempt = 1; ; attempt++) {
      let n = 0;
      const w = await deps.content.writer(d.digest, d.size);
      try {
        const res = await client.blob(d.digest);
        for await (const chunk of withIdleTimeout(res.body!, deps.timeoutMs, `blob ${d.digest}`)) {
          await w.write(chunk);
          n += chunk.length;
          pullBytes.inc({}, chunk.length);
          onBytes(n);
        }
        if (n < d.size) throw internal(`error pulling blob ${d.digest}: unexpected EOF after ${n} of ${d.size} bytes`);
        try {
          await w.commit();
        } catch (err) {
          throw failedPrecondition(`filesystem layer verification failed for digest ${d.digest}`, { cause: err });
        }
        return;
      } catch (err) {
        await w.abort();
        const transient = kindOf(err) === 'internal' && !(err instanceof BerthError && /too large|larger/.test(err.message));
        if (!transient || attempt >= BLOB_ATTEMPTS) throw err;
        await sleep(BLOB_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  })();
  deps.inflight.set(d.digest, p);
  void p.finally(() => deps.inflight.delete(d.digest)).catch(() => undefined);
  return p;
}

/**
 * `docker pull`: resolves the reference at its registry (an index picks this platform's
 * manifest), fetches the config, then downloads the layers that are not already unpacked,
 * a few at a time, and unpacks them in order as they arrive. The image is recorded only once
 * every layer is a committed snapshot, so a failure or a crash leaves no image behind.
 */
export async function pullImage(input: string, platform: string, deps: PullDeps, emit: Emit): Promise<ImageRecord> {
  const ref = parseReference(input);
  const familiar = familiarName(ref);
  const client = deps.client(ref);
  const tagOrDigest = ref.digest ?? ref.tag!;
  const top = await fetchManifest(client, tagOrDigest, familiar);
  let chosen = top;
  if (INDEX_TYPES.has(top.mediaType)) {
    const d = selectManifest(top.doc, parsePlatform(platform));
    chosen = await fetchManifest(client, d.digest, familiar);
    if (chosen.digest !== d.digest) throw failedPrecondition(`manifest verification failed for digest ${d.digest}`);
  }
  if (!MANIFEST_TYPES.has(chosen.mediaType) || chosen.doc.schemaVersion !== 2) {
    throw invalidArgument(`unsupported manifest media type ${JSON.stringify(chosen.mediaType)} for ${familiar}`);
  }
  const config = descriptor(chosen.doc.config, 'config');
  if (!Array.isArray(chosen.doc.layers) || chosen.doc.layers.length > MAX_LAYERS) throw invalidArgument(`invalid manifest for ${familiar}: bad layer list`);
  const layers = (chosen.doc.layers as unknown[]).map((l) => descriptor(l, 'layer'));
  if (config.size > MAX_CONFIG_BYTES) throw invalidArgument(`image config for ${familiar} is too large`);

  emit({ status: `Pulling from ${ref.path}`, id: tagOrDigest });
  const releases = [deps.leases.hold([top.digest, chosen.digest, config.digest, ...layers.map((l) => l.digest)])];
  try {
    return await pullLayers();
  } finally {
    for (const r of releases) r();
  }

  async function pullLayers(): Promise<ImageRecord> {

    // The config first: its diff IDs name the layers this host may already have unpacked.
    await fetchBlob(deps, client, config);
    const cfgBytes = await readAll(deps.content.read(config.digest));
    let diffIds: string[];
    try {
      diffIds = (JSON.parse(cfgBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    } catch {
      throw invalidArgument(`invalid image config for ${familiar}: not JSON`);
    }
    if (!Array.isArray(diffIds) || diffIds.length !== layers.length || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
      throw invalidArgument(`invalid image config for ${familiar}: its diff_ids do not match the manifest's ${layers.length} layers`);
    }
    const chain = chainIds(diffIds);
    releases.push(deps.leases.hold(chain));
    const present = await Promise.all(chain.map((c) => deps.snaps.stat(c).then(() => true, (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)))));
    layers.forEach((l, i) => emit({ status: present[i] ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) }));

    const downloads = new Map<number, Promise<void>>();
    layers.forEach((l, i) => {
      if (present[i]) return;
      const id = shortId(l.digest);
      const p = deps.downloads.run(
        async () => {
          const report = throttled((n) => emit(progressMessage('Downloading', id, n, l.size)));
          await fetchBlob(deps, client, l, (n) => {
            report(n, n === l.size);
            if (n === l.size) emit({ status: 'Verifying Checksum', progressDetail: {}, id });
          });
          emit({ status: 'Download complete', progressDetail: {}, id });
        },
        () => emit({ status: 'Waiting', progressDetail: {}, id }),
      );
      p.catch(() => undefined);
      downloads.set(i, p);
    });

    await unpackImage({ diffIds, layers }, deps.content, deps.snaps, {
      before: async (i) => {
        await downloads.get(i);
        const l = layers[i]!;
        emit(progressMessage('Extracting', shortId(l.digest), 0, l.size));
      },
      after: (i, applied) => {
        if (present[i]) return;
        const l = layers[i]!;
        if (applied) emit(progressMessage('Extracting', shortId(l.digest), l.size, l.size));
        emit({ status: 'Pull complete', progressDetail: {}, id: shortId(l.digest) });
      },
    });
    // Downloads of layers another pull unpacked meanwhile must still not fail silently.
    await Promise.all(downloads.values());

    const before = findImage(deps.images, ref.digest ? `${repositoryName(ref)}@${top.digest}` : formatReference(ref));
    await deps.content.put(chosen.bytes, chosen.digest);
    if (top !== chosen) await deps.content.put(top.bytes, top.digest);
    await deps.images.put(chosen.digest, ref.digest ? [] : [formatReference(ref)], Date.now(), false);
    const img = deps.images.addRepoDigest(config.digest, `${repositoryName(ref)}@${top.digest}`);
    emit({ status: `Digest: ${top.digest}` });
    emit({ status: before?.id === img.id ? `Status: Image is up to date for ${familiar}` : `Status: Downloaded newer image for ${familiar}` });
    return img;
  }
}

function findImage(images: ImageStore, ref: string): ImageRecord | undefined {
  try {
    return images.get(ref);
  } catch {
    return undefined;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
