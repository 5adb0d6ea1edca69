import { invalidArgument, isNotFound, notFound } from '@berth/errors';
import { familiarName, formatReference, parseReference, type Reference, repositoryName } from '@berth/reference';
import type { ContentStore } from './content-store';
import type { ImageStore } from './image-store';
import { manifestToShip } from './layer-blobs';
import type { Limiter } from './limiter';
import { type Emit, progressMessage, shortId, throttled } from './progress';
import type { RegistryClient } from './registry-client';

export interface PushDeps {
  content: ContentStore;
  images: ImageStore;
  client: (ref: Reference) => RegistryClient;
  uploads: Limiter;
}

/** True when the user named a tag (`x:t`), false for a bare repository (`docker push -a x`). */
function hasTag(input: string): boolean {
  const name = input.split('@')[0]!;
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}

/** Another repository of the same registry that has this blob, for a cross-repository mount. */
function mountSource(images: ImageStore, ref: Reference, digest: string): string | undefined {
  for (const img of images.list()) {
    if (!img.layers.some((l) => l.digest === digest)) continue;
    for (const r of img.repoDigests) {
      const other = parseReference(r);
      if (other.domain === ref.domain && other.path !== ref.path) return other.path;
    }
  }
  return undefined;
}

/**
 * `docker push`: uploads the blobs of each tag's image that the registry lacks (a blob it
 * has is skipped; one another repository of it has is mounted), then its manifest, exactly
 * the bytes stored here, so the pushed digest is the local one.
 */
export async function pushImage(input: string, deps: PushDeps, emit: Emit): Promise<void> {
  const ref = parseReference(input);
  if (ref.digest) throw invalidArgument('cannot push a digest reference');
  const repo = repositoryName(ref);
  const tags = hasTag(input)
    ? [ref.tag!]
    : deps.images
        .list()
        .flatMap((i) => i.repoTags.map((t) => parseReference(t)))
        .filter((t) => repositoryName(t) === repo)
        .map((t) => t.tag!);
  if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName({ domain: ref.domain, path: ref.path })}`);
  const client = deps.client(ref);
  emit({ status: `The push refers to repository [${repo}]` });
  for (const tag of tags) {
    const full = formatReference({ domain: ref.domain, path: ref.path, tag });
    let img;
    try {
      img = deps.images.get(full);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`tag does not exist: ${familiarName(parseReference(full))}`);
      throw err;
    }
    const ship = await manifestToShip(img, deps.images, deps.content);
    const manifest = ship.bytes;
    const mediaType = ship.mediaType;
    const doc = { config: { digest: ship.configDigest } };
    // Docker lists the top layer first.
    const order = ship.layers.map((l, i) => ({ l, id: shortId(img.diffIds[i] ?? l.digest) })).reverse();
    for (const { id } of order) emit({ status: 'Preparing', progressDetail: {}, id });
    const uploads = order.map(({ l, id }) =>
      deps.uploads.run(
        async () => {
          if (await client.hasBlob(l.digest)) return emit({ status: 'Layer already exists', progressDetail: {}, id });
          const from = mountSource(deps.images, ref, l.digest);
          if (from && (await client.mount(l.digest, from))) return emit({ status: `Mounted from ${from}`, progressDetail: {}, id });
          const report = throttled((n) => emit(progressMessage('Pushing', id, n, l.size)));
          await client.upload(l.digest, l.size, () => counted(deps.content.read(l.digest), (n) => report(n, n === l.size)));
          emit({ status: 'Pushed', progressDetail: {}, id });
        },
        () => emit({ status: 'Waiting', progressDetail: {}, id }),
      ),
    );
    const results = await Promise.allSettled(uploads);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (!(await client.hasBlob(doc.config.digest))) {
      const size = deps.content.stat(doc.config.digest).size;
      await client.upload(doc.config.digest, size, () => counted(deps.content.read(doc.config.digest), () => undefined));
    }
    await client.putManifest(tag, manifest, mediaType);
    // A rewritten manifest is kept, so the repo digest recorded below names a blob we have.
    if (!ship.original) await deps.content.put(manifest, ship.digest);
    emit({ status: `${tag}: digest: ${ship.digest} size: ${manifest.length}` });
    emit({ progressDetail: {}, aux: { Tag: tag, Digest: ship.digest, Size: manifest.length } });
    deps.images.addRepoDigest(img.id, `${repo}@${ship.digest}`);
  }
}

async function* counted(stream: NodeJS.ReadableStream, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    onBytes(n);
    yield c as Buffer;
  }
}
