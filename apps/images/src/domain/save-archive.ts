import type { Writable } from 'node:stream';
import { failedPrecondition } from '@berth/errors';
import { familiarName, familiarRepository, formatReference, parseReference, repositoryName } from '@berth/reference';
import { TarWriter } from '@berth/tar';
import type { ContentStore } from './content-store';
import type { ImageRecord, ImageStore } from './image-store';
import { type ManifestToShip, manifestToShip } from './layer-blobs';
import { OCI_INDEX } from './oci-media';


/** True when the user named a tag (`x:t`), false for a bare repository or an ID. */
function explicitTag(input: string): boolean {
  const name = input.split('@')[0]!;
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}

interface Selected {
  img: ImageRecord;
  /** Fully qualified tags to carry for this image. */
  tags: Set<string>;
}

/** Which images and tags `docker save a b c` means, Docker's way. */
export function selectImages(images: ImageStore, refs: string[]): Selected[] {
  const byId = new Map<string, Selected>();
  for (const input of refs) {
    const img = images.get(input);
    const sel = byId.get(img.id) ?? { img, tags: new Set<string>() };
    byId.set(img.id, sel);
    let ref;
    try {
      ref = parseReference(input);
    } catch {
      continue;
    }
    if (!img.repoTags.includes(formatReference(ref)) && !explicitTag(input) && !ref.digest) {
      // A bare repository name: every tag of that repository.
      for (const other of images.list()) {
        for (const t of other.repoTags) {
          if (repositoryName(parseReference(t)) !== repositoryName(ref)) continue;
          const s = byId.get(other.id) ?? { img: other, tags: new Set<string>() };
          s.tags.add(t);
          byId.set(other.id, s);
        }
      }
    } else if (!ref.digest && img.repoTags.includes(formatReference(ref))) {
      sel.tags.add(formatReference(ref));
    }
  }
  return [...byId.values()];
}

/**
 * `docker save`: a docker-archive (manifest.json, repositories) that is also an OCI image
 * layout (oci-layout, index.json, blobs/sha256), as Docker 25+ writes it. Every blob is
 * written once, under its digest, so both readers find the same bytes.
 */
export async function saveImages(images: ImageStore, content: ContentStore, refs: string[], out: Writable): Promise<void> {
  const selected = selectImages(images, refs);
  const blobs = new Set<string>();
  // Rewritten manifests (layers standing in for ones never downloaded) are written from memory.
  const extra = new Map<string, Buffer>();
  const ships = new Map<string, ManifestToShip>();
  for (const { img } of selected) {
    const ship = await manifestToShip(img, images, content);
    ships.set(img.id, ship);
    if (ship.original) blobs.add(ship.digest);
    else extra.set(ship.digest, ship.bytes);
    for (const d of [img.id, ...ship.layers.map((l) => l.digest)]) {
      if (!content.has(d)) throw failedPrecondition(`cannot save ${img.id.slice(7, 19)}: blob ${d} is not in the content store`);
      blobs.add(d);
    }
  }
  const tar = new TarWriter(out);
  const dir = { type: 'directory' as const, mode: 0o755, mtimeSeconds: 0 };
  await tar.add({ name: 'blobs/', ...dir });
  await tar.add({ name: 'blobs/sha256/', ...dir });
  for (const d of [...new Set([...blobs, ...extra.keys()])].sort()) {
    const mem = extra.get(d);
    if (mem && !blobs.has(d)) {
      await tar.add({ name: `blobs/sha256/${d.slice(7)}`, mode: 0o444, size: mem.length, mtimeSeconds: 0 }, mem);
      continue;
    }
    const size = content.stat(d).size;
    await tar.add({ name: `blobs/sha256/${d.slice(7)}`, mode: 0o444, size, mtimeSeconds: 0 }, content.read(d) as AsyncIterable<Uint8Array>);
  }
  const manifests = [];
  const archiveManifest = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { img, tags } of selected) {
    const ship = ships.get(img.id)!;
    const desc = { mediaType: ship.mediaType, digest: ship.digest, size: ship.bytes.length };
    if (tags.size === 0) manifests.push(desc);
    for (const t of tags) {
      const ref = parseReference(t);
      manifests.push({ ...desc, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': ref.tag ?? '' } });
      const repo = familiarRepository(ref);
      repositories[repo] = { ...repositories[repo], [ref.tag ?? 'latest']: (img.diffIds[img.diffIds.length - 1] ?? '').slice(7) };
    }
    archiveManifest.push({
      Config: `blobs/sha256/${img.id.slice(7)}`,
      RepoTags: tags.size ? [...tags].map((t) => familiarName(parseReference(t))) : null,
      Layers: ship.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    });
  }
  const file = async (name: string, doc: unknown) => {
    const body = Buffer.from(JSON.stringify(doc));
    await tar.add({ name, mode: 0o644, size: body.length, mtimeSeconds: 0 }, body);
  };
  await file('index.json', { schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  await file('manifest.json', archiveManifest);
  await file('oci-layout', { imageLayoutVersion: '1.0.0' });
  if (Object.keys(repositories).length) await file('repositories', repositories);
  await tar.finish();
}
