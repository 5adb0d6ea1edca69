import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imagesV1 } from '@berth/proto';
import { type Case, check, equal, type Kit, type KitContext, Peer, rejectsWith, sh, unique } from './kit';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

/**
 * The images contract (berth.images.v1 Images and Content): blobs visible only once verified,
 * image records and tags, archives both ways, imports and commits, garbage collection, errors
 * by kind, and images, tags and blobs kept across a restart. Pulls and pushes are checked only
 * for failing cleanly (no registry is reachable from a kit), against a port nothing serves.
 */
export function imagesKit(): Kit {
  const run = unique('kit');
  const repo = `berth-kit/${run}`;
  const tag1 = `${repo}:one`;
  const tag2 = `${repo}:two`;
  let address = '';
  const images = new Peer('images', imagesV1.ImagesClient, () => address);
  const content = new Peer('images', imagesV1.ContentClient, () => address);
  const made = new Set<string>();
  const blob: Record<'layer' | 'config' | 'manifest', { bytes: Buffer; digest: string }> = {} as never;
  let imageId = '';
  let archive = '';

  const writeBlob = (bytes: Buffer, digest = sha(bytes), size = bytes.length) =>
    content.write<imagesV1.WriteBlobRequest, imagesV1.BlobInfo>('writeBlob', [
      { expectedDigest: digest, expectedSize: size, data: Buffer.alloc(0) },
      ...chunks(bytes).map((data) => ({ expectedDigest: '', expectedSize: 0, data })),
    ]);
  const tarOf = async (ctx: KitContext, name: string, files: Record<string, string>): Promise<Buffer> => {
    const dir = join(ctx.scratch, 'trees', name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const file = join(ctx.scratch, `${name}.tar`);
    await sh('tar', ['-cf', file, '-C', dir, '--owner=0', '--group=0', '.']);
    return readFileSync(file);
  };
  const get = (reference: string) => images.call<imagesV1.Image>('getImage', { reference });

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run(ctx) {
        const info = await images.call<{ name: string; contracts: string[] }>('info', {});
        check(info.name, 'Info has no name');
        check(info.contracts.some((c) => c.startsWith('berth.images.v1')), `Info lists no berth.images.v1 contract: ${info.contracts.join(', ')}`);
      },
    },
    {
      name: 'WriteBlob stores a verified blob; StatBlob, its host path and ReadBlob from an offset give it back',
      async run(ctx) {
        const layer = await tarOf(ctx, 'layer', { 'hello.txt': `hello ${run}\n`, 'etc/kit': run });
        blob.layer = { bytes: layer, digest: sha(layer) };
        const config = Buffer.from(
          JSON.stringify({
            architecture: 'amd64',
            os: 'linux',
            created: '2024-01-02T03:04:05Z',
            config: { Cmd: ['/hello'], Labels: { kit: run } },
            rootfs: { type: 'layers', diff_ids: [blob.layer.digest] },
            history: [{ created: '2024-01-02T03:04:05Z', created_by: 'kit layer' }],
          }),
        );
        blob.config = { bytes: config, digest: sha(config) };
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob.config.digest, size: config.length },
            layers: [{ mediaType: LAYER, digest: blob.layer.digest, size: layer.length }],
          }),
        );
        blob.manifest = { bytes: manifest, digest: sha(manifest) };
        for (const b of Object.values(blob)) {
          const info = await writeBlob(b.bytes);
          equal([info.digest, Number(info.size)], [b.digest, b.bytes.length], 'WriteBlob answer');
        }
        const stat = await content.call<imagesV1.BlobInfo>('statBlob', { digest: blob.layer.digest, wantPath: true });
        equal(Number(stat.size), layer.length, 'StatBlob size');
        check(stat.path, 'StatBlob with want_path gave no path');
        equal(sha(readFileSync(stat.path)), blob.layer.digest, 'digest of the file at the host path');
        const tail = await content.read<imagesV1.BlobChunk>('readBlob', { digest: blob.layer.digest, offset: 100 });
        equal(sha(Buffer.concat(tail.map((c) => Buffer.from(c.data)))), sha(layer.subarray(100)), 'ReadBlob from offset 100');
        equal(Number(tail[0]?.offset), 100, 'offset of the first chunk');
      },
    },
    {
      name: 'WriteBlob of present content is a no-op; a digest mismatch is FAILED_PRECONDITION and never visible; a bad digest is INVALID_ARGUMENT',
      async run() {
        const again = await writeBlob(blob.layer.bytes);
        equal(again.digest, blob.layer.digest, 'second WriteBlob');
        const claimed = sha(`not this ${run}`);
        await rejectsWith(writeBlob(Buffer.from(`something else ${run}`), claimed, `something else ${run}`.length), 'failed_precondition', 'WriteBlob whose bytes do not match');
        await rejectsWith(content.call('statBlob', { digest: claimed, wantPath: false }), 'not_found', 'StatBlob of the mismatched digest');
        await rejectsWith(writeBlob(Buffer.from('x'), 'sha256:nothex'), 'invalid_argument', 'WriteBlob with a malformed digest');
        await rejectsWith(content.read('readBlob', { digest: sha(`absent ${run}`), offset: 0 }), 'not_found', 'ReadBlob of a missing blob');
      },
    },
    {
      name: 'PutImage of a manifest whose config is missing is FAILED_PRECONDITION',
      async run() {
        const orphan = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(`no config ${run}`), size: 10 },
            layers: [],
          }),
        );
        const info = await writeBlob(orphan);
        await rejectsWith(images.call('putImage', { manifestDigest: info.digest, tags: [`${repo}:orphan`] }), 'failed_precondition', 'PutImage with a missing config');
        await rejectsWith(get(`${repo}:orphan`), 'not_found', 'the tag of a refused PutImage');
      },
    },
    {
      name: 'PutImage records the image under its config digest and is idempotent; GetImage by tag, ID and short ID',
      async run() {
        const img = await images.call<imagesV1.Image>('putImage', { manifestDigest: blob.manifest.digest, tags: [tag1] });
        imageId = img.id;
        made.add(img.id);
        equal(img.id, blob.config.digest, 'image ID');
        equal(img.diffIds, [blob.layer.digest], 'diff IDs');
        check(img.repoTags.some((t) => t.endsWith(tag1)), `repo tags ${img.repoTags.join(', ')} lack ${tag1}`);
        const again = await images.call<imagesV1.Image>('putImage', { manifestDigest: blob.manifest.digest, tags: [tag1] });
        equal(again.id, img.id, 'a repeated PutImage');
        equal(again.repoTags, img.repoTags, 'tags after a repeated PutImage');
        for (const ref of [tag1, img.id, img.id.slice(7, 19)]) equal((await get(ref)).id, img.id, `GetImage ${ref}`);
        equal(JSON.parse(Buffer.from((await get(tag1)).configJson).toString()).config.Labels.kit, run, 'config_json of the image');
        await rejectsWith(get(`${repo}:none`), 'not_found', 'GetImage of an unknown tag');
        await rejectsWith(get('0123456789ab'), 'not_found', 'GetImage of an unknown short ID');
      },
    },
    {
      name: 'TagImage adds a reference; ListImages and ImageHistory show the image',
      async run() {
        const tagged = await images.call<imagesV1.Image>('tagImage', { source: tag1, target: tag2 });
        check(tagged.repoTags.some((t) => t.endsWith(tag2)) && tagged.repoTags.some((t) => t.endsWith(tag1)), `tags after TagImage: ${tagged.repoTags.join(', ')}`);
        await rejectsWith(images.call('tagImage', { source: `${repo}:none`, target: `${repo}:three` }), 'not_found', 'TagImage of an unknown source');
        const { images: all } = await images.call<imagesV1.ListImagesResponse>('listImages', {});
        equal(all.filter((i) => i.id === imageId).length, 1, 'the image in ListImages');
        const { entries } = await images.call<imagesV1.ImageHistoryResponse>('imageHistory', { reference: tag1 });
        equal(entries.map((e) => e.createdBy), ['kit layer'], 'history');
        await rejectsWith(images.call('imageHistory', { reference: `${repo}:none` }), 'not_found', 'ImageHistory of an unknown image');
      },
    },
    {
      name: 'SaveImages writes a docker-archive with manifest.json and the OCI layout; an unknown reference is NOT_FOUND',
      async run(ctx) {
        const chunks = await images.read<imagesV1.BlobChunk>('saveImages', { references: [tag1] });
        archive = join(ctx.scratch, 'saved.tar');
        writeFileSync(archive, Buffer.concat(chunks.map((c) => Buffer.from(c.data))));
        const names = (await sh('tar', ['-tf', archive])).split('\n');
        for (const n of ['manifest.json', 'index.json', 'oci-layout', `blobs/sha256/${blob.layer.digest.slice(7)}`]) check(names.includes(n), `the archive lacks ${n}: ${names.join(' ')}`);
        await rejectsWith(images.read('saveImages', { references: [`${repo}:none`] }), 'not_found', 'SaveImages of an unknown image');
      },
    },
    {
      name: 'images, tags and blobs survive a restart of the endpoint',
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        images.close();
        content.close();
        const img = await get(tag2);
        equal(img.id, imageId, 'image by its second tag after restart');
        const stat = await content.call<imagesV1.BlobInfo>('statBlob', { digest: blob.layer.digest, wantPath: false });
        equal(Number(stat.size), blob.layer.bytes.length, 'layer blob after restart');
      },
    },
    {
      name: 'DeleteImage of one of two tags untags only; by ID it deletes the image; unknown is NOT_FOUND',
      async run() {
        const one = await images.call<imagesV1.DeleteImageResponse>('deleteImage', { reference: tag2, force: false, noPrune: false, inUse: [] });
        check(one.untagged.some((t) => t.endsWith(tag2)), `untagged ${one.untagged.join(', ')}`);
        equal(one.deleted, [], 'deleted by removing one of two tags');
        equal((await get(tag1)).id, imageId, 'the image by its other tag');
        const all = await images.call<imagesV1.DeleteImageResponse>('deleteImage', { reference: imageId, force: true, noPrune: false, inUse: [] });
        check(all.deleted.includes(imageId), `deleted ${all.deleted.join(', ')} lacks the image`);
        await rejectsWith(get(imageId), 'not_found', 'GetImage after DeleteImage');
        await rejectsWith(images.call('deleteImage', { reference: imageId, force: false, noPrune: false, inUse: [] }), 'not_found', 'second DeleteImage');
      },
    },
    {
      name: 'LoadArchive records the saved image again with its tag; a broken archive fails',
      async run() {
        const data = readFileSync(archive);
        const lines = await images.duplex<imagesV1.LoadArchiveRequest, imagesV1.LoadArchiveResponse>('loadArchive', chunks(data).map((d) => ({ data: d }))).responses;
        check(lines.some((l) => l.stream.includes('Loaded image')), `LoadArchive said: ${lines.map((l) => l.stream).join('')}`);
        equal((await get(tag1)).id, imageId, 'the loaded image');
        const broken = Buffer.concat([data.subarray(0, 1024), Buffer.alloc(4096, 7)]);
        const failed = await images
          .duplex<imagesV1.LoadArchiveRequest, imagesV1.LoadArchiveResponse>('loadArchive', [{ data: broken }])
          .responses.then(
            () => undefined,
            (err: unknown) => err,
          );
        check(failed !== undefined, 'LoadArchive of a broken archive succeeded');
      },
    },
    {
      name: 'ImportRootfs makes a one-layer image; CommitImage adds a layer on a parent',
      async run(ctx) {
        const rootfs = await tarOf(ctx, 'rootfs', { 'bin/kit': 'imported\n' });
        const imported = await images.write<imagesV1.ImportRootfsRequest, imagesV1.Image>('importRootfs', [
          { tag: `${repo}:imported`, changes: ['CMD ["/bin/kit"]'], message: 'kit import', data: Buffer.alloc(0) },
          ...chunks(rootfs).map((data) => ({ tag: '', changes: [], message: '', data })),
        ]);
        made.add(imported.id);
        equal(imported.diffIds, [sha(rootfs)], 'diff IDs of an imported rootfs');
        equal(JSON.parse(Buffer.from(imported.configJson).toString()).config.Cmd, ['/bin/kit'], 'CMD from the changes');
        const layer = await tarOf(ctx, 'commit', { 'added.txt': 'committed\n' });
        const committed = await images.write<imagesV1.CommitImageRequest, imagesV1.Image>('commitImage', [
          { parent: tag1, configJson: Buffer.from(JSON.stringify({ Cmd: ['/added'] })), changes: [], comment: 'kit', author: 'kit', tag: `${repo}:committed`, containerId: '', createdBy: 'kit commit', data: Buffer.alloc(0), emptyLayer: false, reuseFrom: '', reuseHistoryIndex: 0 },
          ...chunks(layer).map((data) => ({ parent: '', configJson: Buffer.alloc(0), changes: [], comment: '', author: '', tag: '', containerId: '', createdBy: '', data, emptyLayer: false, reuseFrom: '', reuseHistoryIndex: 0 })),
        ]);
        made.add(committed.id);
        equal(committed.diffIds, [blob.layer.digest, sha(layer)], 'diff IDs of a commit: the parent\'s, then the new layer');
        equal((await get(`${repo}:committed`)).id, committed.id, 'the committed image by its tag');
        await rejectsWith(
          images.write<imagesV1.CommitImageRequest, imagesV1.Image>('commitImage', [{ parent: `${repo}:none`, configJson: Buffer.from('{}'), changes: [], comment: '', author: '', tag: '', containerId: '', createdBy: '', data: Buffer.alloc(0), emptyLayer: true, reuseFrom: '', reuseHistoryIndex: 0 }]),
          'not_found',
          'CommitImage on an unknown parent',
        );
      },
    },
    {
      name: 'PullImage, PushImage and CheckAuth against a registry that is not there fail and leave no image',
      async run() {
        const ref = `127.0.0.1:9/${run}:latest`;
        const pulled = await images.read<imagesV1.ProgressMessage>('pullImage', { reference: ref, auth: undefined, platform: '', allTags: false }, 60_000).then(
          (msgs) => msgs.map((m) => m.json).join('\n'),
          (err: unknown) => err,
        );
        check(pulled instanceof Error || /error/i.test(String(pulled)), `a pull from a closed port succeeded: ${String(pulled)}`);
        await rejectsWith(get(ref), 'not_found', 'the image of a failed pull');
        await images.call('tagImage', { source: tag1, target: `127.0.0.1:9/${run}:push` });
        const pushed = await images.read<imagesV1.ProgressMessage>('pushImage', { reference: `127.0.0.1:9/${run}:push`, auth: undefined }, 60_000).then(
          (msgs) => msgs.map((m) => m.json).join('\n'),
          (err: unknown) => err,
        );
        check(pushed instanceof Error || /error/i.test(String(pushed)), `a push to a closed port succeeded: ${String(pushed)}`);
        await images.call('deleteImage', { reference: `127.0.0.1:9/${run}:push`, force: false, noPrune: false, inUse: [] });
        const auth = await images.call('checkAuth', { username: 'u', password: 'p', serverAddress: '127.0.0.1:9', identityToken: '', registryToken: '' }).then(
          () => undefined,
          (err: unknown) => err,
        );
        check(auth instanceof Error, 'CheckAuth against a closed port succeeded');
      },
    },
    {
      name: 'CollectGarbage removes blobs no image references, keeps referenced ones, and repeating it is harmless',
      async run() {
        const loose = await writeBlob(Buffer.from(`loose ${run}`));
        const gc = await images.call<imagesV1.CollectGarbageResponse>('collectGarbage', {});
        check(gc.removedBlobs.includes(loose.digest), `CollectGarbage kept the unreferenced ${loose.digest}`);
        check(!gc.removedBlobs.includes(blob.layer.digest), 'CollectGarbage removed a blob an image references');
        await content.call('statBlob', { digest: blob.layer.digest, wantPath: false });
        await rejectsWith(content.call('statBlob', { digest: loose.digest, wantPath: false }), 'not_found', 'StatBlob of a collected blob');
        const again = await images.call<imagesV1.CollectGarbageResponse>('collectGarbage', {});
        check(!again.removedBlobs.includes(loose.digest), 'a second CollectGarbage removed the same blob again');
      },
    },
  ];

  return {
    service: 'images',
    cases,
    setup(ctx) {
      address = ctx.address;
      mkdirSync(ctx.scratch, { recursive: true });
    },
    async cleanup() {
      for (const id of [...made].reverse()) await images.call('deleteImage', { reference: id, force: true, noPrune: false, inUse: [] }).catch(() => undefined);
      await images.call('collectGarbage', {}).catch(() => undefined);
      images.close();
      content.close();
    },
  };
}

function chunks(b: Buffer, size = 256 << 10): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
