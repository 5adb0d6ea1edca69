import { randomBytes } from 'node:crypto';
import { failedPrecondition, isAlreadyExists } from '@berth/errors';
import { chainIds, familiarName, parseReference } from '@berth/reference';
import { applyChanges, type ContainerConfigDoc } from './changes';
import type { ContentStore } from './content-store';
import type { ImageRecord, ImageStore } from './image-store';
import type { LayerSnapshots } from './unpack';
import { manifestBytes, tarLayer } from './oci-media';

export interface CommitImageOptions {
  /** The image built on; '' for none (a Dockerfile's `FROM scratch`). */
  parent: string;
  config: ContainerConfigDoc & Record<string, unknown>;
  changes: string[];
  comment: string;
  author: string;
  tag: string;
  containerId: string;
  createdBy: string;
  /** A metadata-only image: no layer is read and the parent's layers are kept. */
  emptyLayer?: boolean;
  /** The step of another image to take instead of reading a layer (see `commitReused`). */
  reuse?: { from: string; historyIndex: number };
}

/** The nothing `FROM scratch` builds on: no layers, no history. */
const SCRATCH: ImageRecord = { id: '', manifestDigest: '', repoTags: [], repoDigests: [], diffIds: [], layers: [], createdUnixMs: 0, recordedUnixMs: 0 };

async function readJson(content: ContentStore, digest: string): Promise<Record<string, unknown>> {
  if (!digest) return { architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  const chunks: Buffer[] = [];
  for await (const c of content.read(digest)) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

/**
 * `docker commit`: the parent image's layers plus one new layer (the container's changes).
 * The layer is stored, then unpacked on the parent's top snapshot and committed under its
 * chain ID, so the image can run at once; only then is the image recorded.
 */
export async function commitImage(
  layerSource: AsyncIterable<Uint8Array>,
  o: CommitImageOptions,
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
): Promise<ImageRecord> {
  // The new blob and snapshot are held against garbage collection until the image names them.
  return content.leases.during((hold) => commitHeld(layerSource, o, content, images, snaps, hold));
}

async function commitHeld(
  layerSource: AsyncIterable<Uint8Array>,
  o: CommitImageOptions,
  content: ContentStore,
  images: ImageStore,
  snaps: LayerSnapshots,
  hold: (names: string[]) => void,
): Promise<ImageRecord> {
  const parent = o.parent ? images.get(o.parent) : SCRATCH;
  const config = applyChanges(o.config, o.changes);
  const tag = o.tag ? familiarName(parseReference(o.tag)) : '';
  if (o.emptyLayer) return commitConfigOnly(o, config, parent, tag, content, images, hold);
  if (o.reuse) return commitReused(o.reuse, config, parent, tag, content, images, hold);
  const w = await content.writerUnverified();
  try {
    for await (const c of layerSource) await w.write(c);
  } catch (err) {
    await w.abort();
    throw err;
  }
  const layer = await w.commit();
  hold([layer.digest, parent.id, ...parent.layers.map((l) => l.digest)].filter(Boolean));
  const parentChain = chainIds(parent.diffIds);
  const key = `commit-${randomBytes(6).toString('hex')}`;
  await snaps.prepare(key, parentChain[parentChain.length - 1] ?? '');
  let diffId = '';
  try {
    diffId = (await snaps.applyLayer(key, layer.path, '')).diffId;
    const chain = chainIds([...parent.diffIds, diffId]);
    hold(chain);
    await snaps.commit(chain.at(-1)!, key);
  } catch (err) {
    await snaps.remove(key).catch(() => undefined);
    // The same change committed before is already a snapshot under that chain ID: reuse it.
    if (!(diffId && isAlreadyExists(err))) throw err;
  }
  const base = await readJson(content, parent.id);
  const rootfs = base.rootfs as { diff_ids?: string[] } | undefined;
  const doc = nextDoc(base, o, config, false, {
    // What dockerd keeps as ContainerConfig: the container's own config, before --change.
    container_config: o.config,
    rootfs: { type: 'layers', diff_ids: [...(rootfs?.diff_ids ?? parent.diffIds), diffId] },
  });
  if (o.author) doc.author = o.author;
  else delete doc.author;
  if (o.comment) doc.comment = o.comment;
  else delete doc.comment;
  const layers = [...parent.layers, tarLayer(layer)];
  return record(doc, layers, tag, content, images, parent.id);
}

/** A builder's metadata step: the parent's layers under a new config, history marked empty_layer. */
async function commitConfigOnly(
  o: CommitImageOptions,
  config: ContainerConfigDoc,
  parent: ImageRecord,
  tag: string,
  content: ContentStore,
  images: ImageStore,
  hold: (names: string[]) => void,
): Promise<ImageRecord> {
  hold([parent.id, ...parent.layers.map((l) => l.digest)].filter(Boolean));
  const doc = nextDoc(await readJson(content, parent.id), o, config, true);
  if (o.author) doc.author = o.author;
  return record(doc, parent.layers, tag, content, images, parent.id);
}

/**
 * The parent's config document as the committed image's: the new config, the commit's time and
 * its history entry; `extra` goes before the history, where dockerd writes those keys.
 */
function nextDoc(base: Record<string, unknown>, o: CommitImageOptions, config: ContainerConfigDoc, emptyLayer: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const created = new Date().toISOString();
  const history = Array.isArray(base.history) ? (base.history as unknown[]) : [];
  const entry = { created, created_by: o.createdBy, ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}), ...(emptyLayer ? { empty_layer: true } : {}) };
  return { ...base, created, config, container: o.containerId, ...extra, history: [...history, entry] };
}

interface HistoryEntry {
  created?: string;
  created_by?: string;
  empty_layer?: boolean;
}

/**
 * A step of `from` (a pulled or loaded image, which has no images of its own for its steps)
 * as an image of its own on `parent`, as dockerd's classic builder restores a --cache-from
 * step: the parent's history and layers must begin `from`'s, and the new image takes the
 * next history entry, with `created` kept, and that entry's layer unless it made none. The
 * layer is already unpacked: `from`'s snapshots hold every prefix of its layers.
 */
async function commitReused(
  reuse: { from: string; historyIndex: number },
  config: ContainerConfigDoc,
  parent: ImageRecord,
  tag: string,
  content: ContentStore,
  images: ImageStore,
  hold: (names: string[]) => void,
): Promise<ImageRecord> {
  const from = images.get(reuse.from);
  hold([from.id, parent.id, ...from.layers.map((l) => l.digest)].filter(Boolean));
  const [fromDoc, base] = await Promise.all([readJson(content, from.id), readJson(content, parent.id)]);
  const fromHistory = (fromDoc.history ?? []) as HistoryEntry[];
  const history = (base.history ?? []) as HistoryEntry[];
  const refuse = (why: string) => failedPrecondition(`cannot reuse step ${reuse.historyIndex} of ${from.id}: ${why}`);
  if (reuse.historyIndex !== history.length) throw refuse(`the parent has ${history.length} history entries`);
  const entry = fromHistory[reuse.historyIndex];
  if (!entry) throw refuse(`it has ${fromHistory.length} history entries`);
  if (history.some((h, i) => JSON.stringify(h) !== JSON.stringify(fromHistory[i]))) throw refuse('the parent\'s history differs');
  if (parent.diffIds.some((d, i) => d !== from.diffIds[i])) throw refuse('the parent\'s layers differ');
  let layers = parent.layers;
  let diffIds = parent.diffIds;
  if (!entry.empty_layer) {
    const k = fromHistory.slice(0, reuse.historyIndex).filter((h) => !h.empty_layer).length;
    if (k !== parent.diffIds.length || !from.layers[k] || !from.diffIds[k]) throw refuse('its history and layers do not match');
    layers = [...parent.layers, from.layers[k]];
    diffIds = [...parent.diffIds, from.diffIds[k]];
    hold(chainIds(diffIds));
  }
  const doc: Record<string, unknown> = {
    ...base,
    architecture: fromDoc.architecture ?? base.architecture,
    os: fromDoc.os ?? base.os,
    created: entry.created ?? new Date().toISOString(),
    config,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...history, entry],
  };
  delete doc.container;
  delete doc.container_config;
  return record(doc, layers, tag, content, images, parent.id);
}

async function record(
  doc: Record<string, unknown>,
  layers: { mediaType: string; digest: string; size: number }[],
  tag: string,
  content: ContentStore,
  images: ImageStore,
  parent: string,
): Promise<ImageRecord> {
  const cfgBlob = await content.put(Buffer.from(JSON.stringify(doc)));
  const manifest = await content.put(manifestBytes(cfgBlob, layers));
  return images.put(manifest.digest, tag ? [tag] : [], Date.now(), true, parent);
}
