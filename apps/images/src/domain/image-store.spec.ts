import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConflict, isFailedPrecondition, isInvalidArgument, isNotFound } from '@berth/errors';
import { RecordStore } from '@berth/store';
import { ContentStore } from './content-store';
import { ImageStore, type ImageRecord } from './image-store';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const err = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
};

function stores() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-images-'));
  const content = new ContentStore(join(dir, 'content'));
  content.reconcile();
  const images = new ImageStore(new RecordStore<ImageRecord>(join(dir, 'images')).load(), content);
  return { dir, content, images };
}

/** Puts a one-layer image's blobs in the store; `seed` makes distinct images. */
async function blobs(content: ContentStore, seed: string) {
  const layer = Buffer.from(`layer-${seed}`);
  const config = Buffer.from(JSON.stringify({ created: '2024-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  await content.put(layer);
  await content.put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    }),
  );
  await content.put(manifest);
  return { manifest: sha(manifest), config: sha(config) };
}

describe('ContentStore', () => {
  it('makes a blob visible only after its digest is verified', async () => {
    const { content, dir } = stores();
    const w = await content.writer(sha('good'), 4);
    await w.write(Buffer.from('evil'));
    const e = await err(w.commit());
    expect(isFailedPrecondition(e)).toBe(true);
    expect((e as Error).message).toContain('digest mismatch');
    expect(content.has(sha('good'))).toBe(false);
    expect(readdirSync(join(dir, 'content', 'ingest'))).toEqual([]);
  });

  it('refuses more bytes than declared and bad digests', async () => {
    const { content } = stores();
    const w = await content.writer(sha('ab'), 1);
    expect(isFailedPrecondition(await err(w.write(Buffer.from('ab'))))).toBe(true);
    expect(isInvalidArgument(await err(content.writer('sha256:../../etc')))).toBe(true);
  });

  it('clears ingest files left by a crash at start-up', async () => {
    const { content, dir } = stores();
    writeFileSync(join(dir, 'content', 'ingest', 'half'), 'x');
    content.reconcile();
    expect(readdirSync(join(dir, 'content', 'ingest'))).toEqual([]);
  });
});

describe('ImageStore', () => {
  it('records, resolves and tags images the way Docker names them', async () => {
    const { content, images } = stores();
    const a = await blobs(content, 'a');
    const img = await images.put(a.manifest, ['busybox']);
    expect(img.id).toBe(a.config);
    expect(img.repoTags).toEqual(['docker.io/library/busybox:latest']);
    expect(images.get('busybox').id).toBe(a.config);
    expect(images.get('busybox:latest').id).toBe(a.config);
    expect(images.get(a.config.slice(7, 19)).id).toBe(a.config);
    expect(isNotFound(await err(() => images.get('nope')))).toBe(true);
    expect(((await err(() => images.get('nope'))) as Error).message).toBe('No such image: nope:latest');
  });

  it('moves a tag to the image it is given to', async () => {
    const { content, images } = stores();
    const a = await blobs(content, 'a');
    const b = await blobs(content, 'b');
    await images.put(a.manifest, ['app:1']);
    await images.put(b.manifest, []);
    images.tag(b.config, 'app:1');
    expect(images.get('app:1').id).toBe(b.config);
    expect(images.get(a.config).repoTags).toEqual([]);
  });

  it('untags, deletes, and needs force for an image in several repositories', async () => {
    const { content, images } = stores();
    const a = await blobs(content, 'a');
    await images.put(a.manifest, ['one', 'two']);
    expect(isConflict(await err(() => images.delete(a.config, false)))).toBe(true);
    expect(images.delete('one', false)).toEqual({ untagged: ['one:latest'], deleted: [] });
    expect(images.delete('two', false)).toEqual({ untagged: ['two:latest'], deleted: [a.config] });
    expect(images.list()).toEqual([]);
  });

  it('keeps parents: an intermediate cannot be deleted by ID, the final image takes its untagged parents along', async () => {
    const { content, images } = stores();
    const [base, mid, top, other] = [await blobs(content, 'base'), await blobs(content, 'mid'), await blobs(content, 'top'), await blobs(content, 'other')];
    await images.put(base.manifest, ['base']);
    await images.put(mid.manifest, [], Date.now(), true, base.config);
    await images.put(top.manifest, ['app'], Date.now(), true, mid.config);
    await images.put(other.manifest, [], Date.now(), true, mid.config);
    expect(images.get(mid.config).parent).toBe(base.config);
    expect((await err(() => images.delete(mid.config, true)) as Error).message).toBe(
      `conflict: unable to delete ${mid.config.slice(7, 19)} (cannot be forced) - image has dependent child images`,
    );
    // mid has another child: only top goes.
    expect(images.delete('app', false, true)).toEqual({ untagged: ['app:latest'], deleted: [top.config] });
    // the last child takes mid along, and stops at the tagged base; an in-use parent stays.
    expect(images.delete(other.config, false, true, new Set([base.config]))).toEqual({ untagged: [], deleted: [other.config, mid.config] });
    expect(images.list().map((i) => i.id)).toEqual([base.config]);
    // untagging a parent by name keeps it while it has children
    await images.put(mid.manifest, [], Date.now(), true, base.config);
    expect(images.delete('base', false, true)).toEqual({ untagged: ['base:latest'], deleted: [] });
    expect(images.get(base.config).repoTags).toEqual([]);
  });

  it('refuses a manifest whose blobs are missing or malformed', async () => {
    const { content, images } = stores();
    const bad = await content.put(Buffer.from('{"schemaVersion":2,"config":{"digest":"' + sha('x') + '"},"layers":[]}'));
    expect(isFailedPrecondition(await err(images.put(bad.digest, [])))).toBe(true);
    const garbage = await content.put(Buffer.from('not json'));
    expect(isInvalidArgument(await err(images.put(garbage.digest, [])))).toBe(true);
    expect(images.list()).toEqual([]);
  });
});
