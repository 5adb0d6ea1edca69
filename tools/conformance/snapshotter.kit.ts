import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, unary } from '@berth/grpc';
import { snapshotterV1, volumesV1 } from '@berth/proto';
import { mountSpecs } from '@berth/rootfs';
import { type Case, check, equal, type Kit, type KitContext, rejectsWith, sh, unique } from './kit';

/**
 * The snapshotter contract (berth.snapshotter.v1 Snapshots and Volumes) as any implementation
 * must keep it: the lifecycle of the contract's comments, its error kinds, repeated calls, and
 * what survives a restart of the endpoint.
 */
export function snapshotterKit(): Kit {
  const run = unique('kit');
  const base = `${run}-base`;
  const baseKey = `${run}-extract`;
  const child = `${run}-child`;
  const volume = `${run}-vol`;
  const container = `${run}-ctr`;
  const mounted: string[] = [];
  let snaps: snapshotterV1.SnapshotsClient | undefined;
  let vols: volumesV1.VolumesClient | undefined;
  const s = (ctx: KitContext) => (snaps ??= connect(snapshotterV1.SnapshotsClient, ctx.address));
  const v = (ctx: KitContext) => (vols ??= connect(volumesV1.VolumesClient, ctx.address));
  const call = <Req, Res>(m: (r: Req, ...rest: never[]) => unknown, req: Req, c: object) =>
    unary<Req, Res>('snapshotter', (m as never as (...a: unknown[]) => never).bind(c) as never, req, { deadlineMs: 30_000 });

  /** Mounts what Prepare/View/Mounts returned on a fresh dir of the scratch space. */
  const mount = (ctx: KitContext, mounts: snapshotterV1.Mount[], name: string): string => {
    const target = join(ctx.scratch, 'mnt', name);
    mkdirSync(target, { recursive: true });
    mountSpecs(mounts, target);
    mounted.push(target);
    return target;
  };
  const umount = async (target: string) => {
    await sh('umount', [target]).catch(() => sh('umount', ['-l', target]));
    mounted.splice(mounted.indexOf(target), 1);
  };
  /** A layer tarball made by the OS's tar from a tree the case describes. */
  const layer = async (ctx: KitContext, name: string, files: Record<string, string>, extraArgs: string[] = []): Promise<string> => {
    const dir = join(ctx.scratch, 'trees', name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const tarball = join(ctx.scratch, `${name}.tar`);
    await sh('tar', ['-cf', tarball, '-C', dir, ...extraArgs, '.']);
    return tarball;
  };

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run(ctx) {
        const info = await call(s(ctx).info, {}, s(ctx));
        check((info as { name: string }).name, 'Info has no name');
        const contracts = (info as { contracts: string[] }).contracts;
        check(contracts.some((c) => c.startsWith('berth.snapshotter.v1')), `Info lists no berth.snapshotter.v1 contract: ${contracts.join(', ')}`);
      },
    },
    {
      name: 'Prepare, ApplyLayer, Commit: a layer becomes a committed snapshot',
      async run(ctx) {
        const res = (await call(s(ctx).prepare, { key: baseKey, parent: '', labels: {} }, s(ctx))) as snapshotterV1.MountsResponse;
        check(res.mounts.length > 0, 'Prepare returned no mounts');
        const blob = await layer(ctx, 'base', { 'etc/hello': 'hello\n', 'gone/file': 'x' });
        const applied = (await call(s(ctx).applyLayer, { key: baseKey, blobPath: blob, mediaType: 'application/vnd.oci.image.layer.v1.tar' }, s(ctx))) as snapshotterV1.ApplyLayerResponse;
        check(/^sha256:[0-9a-f]{64}$/.test(applied.diffId), `ApplyLayer diff ID ${applied.diffId}`);
        const expected = `sha256:${(await sh('sha256sum', [blob])).split(' ')[0]}`;
        equal(applied.diffId, expected, 'diff ID of an uncompressed layer is its digest');
        const info = (await call(s(ctx).commit, { name: base, key: baseKey, labels: { kit: run } }, s(ctx))) as snapshotterV1.SnapshotInfo;
        equal(info.name, base, 'committed name');
        equal(info.kind, snapshotterV1.Kind.KIND_COMMITTED, 'committed kind');
        await rejectsWith(call(s(ctx).stat, { key: baseKey }, s(ctx)), 'not_found', 'Stat of the key a commit consumed');
      },
    },
    {
      name: 'Prepare with a key that exists is ALREADY_EXISTS; Remove of a missing key is NOT_FOUND',
      async run(ctx) {
        await call(s(ctx).prepare, { key: child, parent: base, labels: {} }, s(ctx));
        await rejectsWith(call(s(ctx).prepare, { key: child, parent: base, labels: {} }, s(ctx)), 'already_exists', 'second Prepare of one key');
        await rejectsWith(call(s(ctx).remove, { key: `${run}-never` }, s(ctx)), 'not_found', 'Remove of a missing key');
        await rejectsWith(call(s(ctx).prepare, { key: `${run}-orphan`, parent: `${run}-no-parent`, labels: {} }, s(ctx)), 'not_found', 'Prepare on a missing parent');
      },
    },
    {
      name: 'an active snapshot shows its parent, takes writes, and reports them (Changes, WriteDiff, Usage)',
      async run(ctx) {
        const { mounts } = (await call(s(ctx).mounts, { key: child }, s(ctx))) as snapshotterV1.MountsResponse;
        const root = mount(ctx, mounts, 'child');
        try {
          equal(readFileSync(join(root, 'etc/hello'), 'utf8'), 'hello\n', 'a parent file seen through the child');
          writeFileSync(join(root, 'added.txt'), 'new\n');
          await sh('rm', ['-rf', join(root, 'gone')]);
        } finally {
          await umount(root);
        }
        const { changes } = (await call(s(ctx).changes, { key: child, exclude: [] }, s(ctx))) as snapshotterV1.ChangesResponse;
        const paths = changes.map((c) => c.path).sort();
        check(paths.includes('/added.txt'), `Changes lacks /added.txt: ${paths.join(' ')}`);
        check(paths.includes('/gone'), `Changes lacks the deleted /gone: ${paths.join(' ')}`);
        const tar = await new Promise<Buffer>((resolve, reject) => {
          const parts: Buffer[] = [];
          const stream = s(ctx).writeDiff({ key: child, exclude: [] });
          stream.on('data', (c: snapshotterV1.DiffChunk) => parts.push(Buffer.from(c.data)));
          stream.on('error', reject);
          stream.on('end', () => resolve(Buffer.concat(parts)));
        });
        const diffFile = join(ctx.scratch, 'diff.tar');
        writeFileSync(diffFile, tar);
        const names = (await sh('tar', ['-tf', diffFile])).split('\n').map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
        check(names.includes('added.txt'), `WriteDiff lacks added.txt: ${names.join(' ')}`);
        check(names.includes('.wh.gone'), `WriteDiff lacks the whiteout .wh.gone: ${names.join(' ')}`);
        const usage = (await call(s(ctx).usage, { key: child }, s(ctx))) as snapshotterV1.UsageResponse;
        check(Number(usage.size) > 0, `Usage of a written snapshot is ${usage.size}`);
      },
    },
    {
      name: 'a committed snapshot with children cannot be removed (FAILED_PRECONDITION)',
      async run(ctx) {
        await rejectsWith(call(s(ctx).remove, { key: base }, s(ctx)), 'failed_precondition', 'Remove of a parent');
      },
    },
    {
      name: 'View gives a read-only tree of a committed snapshot',
      async run(ctx) {
        const key = `${run}-view`;
        const { mounts } = (await call(s(ctx).view, { key, parent: base, labels: {} }, s(ctx))) as snapshotterV1.MountsResponse;
        const root = mount(ctx, mounts, 'view');
        try {
          equal(readFileSync(join(root, 'etc/hello'), 'utf8'), 'hello\n', 'file in the view');
          let refused = false;
          try {
            writeFileSync(join(root, 'nope'), 'x');
          } catch {
            refused = true;
          }
          check(refused, 'a write into a view succeeded');
        } finally {
          await umount(root);
        }
        await call(s(ctx).remove, { key }, s(ctx));
      },
    },
    {
      name: 'a layer entry that escapes its root is INVALID_ARGUMENT and writes nothing outside',
      async run(ctx) {
        const key = `${run}-evil`;
        await call(s(ctx).prepare, { key, parent: '', labels: {} }, s(ctx));
        const victim = join(ctx.scratch, 'outside-victim');
        await layer(ctx, 'evil', { 'ok.txt': 'fine' });
        // The same tree's one member renamed by GNU tar's --transform to climb out of the root.
        const evil = join(ctx.scratch, 'evil2.tar');
        await sh('tar', ['-cf', evil, '-C', join(ctx.scratch, 'trees', 'evil'), '--transform', `s,^\\./ok.txt,../../../../../../../..${victim},`, '-P', './ok.txt']);
        await rejectsWith(call(s(ctx).applyLayer, { key, blobPath: evil, mediaType: 'application/vnd.oci.image.layer.v1.tar' }, s(ctx)), 'invalid_argument', 'ApplyLayer of an escaping member');
        check(!existsSync(victim), 'a layer wrote outside its snapshot');
        await call(s(ctx).remove, { key }, s(ctx));
      },
    },
    {
      name: 'List has the committed and the active snapshots with their parents',
      async run(ctx) {
        const { snapshots } = (await call(s(ctx).list, {}, s(ctx))) as snapshotterV1.ListResponse;
        const byName = new Map(snapshots.map((x) => [x.name, x]));
        check(byName.get(base)?.kind === snapshotterV1.Kind.KIND_COMMITTED, `List lacks committed ${base}`);
        equal(byName.get(child)?.parent, base, 'the active child\'s parent in List');
        equal(byName.get(base)?.labels.kit, run, 'labels kept by Commit');
      },
    },
    {
      name: 'CreateVolume is idempotent by name; GetVolume, ListVolumes with a name filter',
      async run(ctx) {
        const a = (await call(v(ctx).createVolume, { name: volume, driver: 'local', labels: { kit: run }, driverOpts: {}, anonymous: false }, v(ctx))) as volumesV1.Volume;
        equal(a.name, volume, 'created name');
        check(a.mountpoint.length > 0, 'a volume has a mountpoint');
        const again = (await call(v(ctx).createVolume, { name: volume, driver: 'local', labels: {}, driverOpts: {}, anonymous: false }, v(ctx))) as volumesV1.Volume;
        equal(again.mountpoint, a.mountpoint, 'a second create returns the existing volume');
        const got = (await call(v(ctx).getVolume, { name: volume, withSize: false }, v(ctx))) as volumesV1.Volume;
        equal(got.labels.kit, run, 'labels of the volume');
        const { volumes } = (await call(v(ctx).listVolumes, { filtersJson: JSON.stringify({ name: [volume] }), withSize: false }, v(ctx))) as volumesV1.ListVolumesResponse;
        equal(volumes.map((x) => x.name), [volume], 'list filtered by name');
        await rejectsWith(call(v(ctx).getVolume, { name: `${run}-none`, withSize: false }, v(ctx)), 'not_found', 'GetVolume of a missing volume');
      },
    },
    {
      name: 'a volume in use cannot be removed; acquiring twice is a no-op; release frees it',
      async run(ctx) {
        await call(v(ctx).acquireVolume, { name: volume, containerId: container, copyFrom: '', copyPath: '' }, v(ctx));
        const held = (await call(v(ctx).acquireVolume, { name: volume, containerId: container, copyFrom: '', copyPath: '' }, v(ctx))) as volumesV1.Volume;
        equal(held.containers, [container], 'references after acquiring twice');
        await rejectsWith(call(v(ctx).removeVolume, { name: volume, force: false }, v(ctx)), 'failed_precondition', 'RemoveVolume of a volume in use');
      },
    },
    {
      name: 'snapshots, volumes and volume references survive a restart of the endpoint',
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        snaps?.close();
        vols?.close();
        snaps = undefined;
        vols = undefined;
        const info = (await call(s(ctx).stat, { key: base }, s(ctx))) as snapshotterV1.SnapshotInfo;
        equal(info.kind, snapshotterV1.Kind.KIND_COMMITTED, 'committed snapshot after restart');
        const act = (await call(s(ctx).stat, { key: child }, s(ctx))) as snapshotterV1.SnapshotInfo;
        equal(act.kind, snapshotterV1.Kind.KIND_ACTIVE, 'active snapshot after restart');
        const vol = (await call(v(ctx).getVolume, { name: volume, withSize: false }, v(ctx))) as volumesV1.Volume;
        equal(vol.containers, [container], 'volume references after restart');
      },
    },
    {
      name: 'ReleaseContainer, then RemoveVolume; removing it again is NOT_FOUND unless forced; prune takes only anonymous volumes',
      async run(ctx) {
        await call(v(ctx).releaseContainer, { containerId: container, removeAnonymous: false }, v(ctx));
        await call(v(ctx).removeVolume, { name: volume, force: false }, v(ctx));
        await rejectsWith(call(v(ctx).removeVolume, { name: volume, force: false }, v(ctx)), 'not_found', 'second RemoveVolume');
        await call(v(ctx).removeVolume, { name: volume, force: true }, v(ctx));
        const named = `${run}-named`;
        const anon = (await call(v(ctx).createVolume, { name: '', driver: 'local', labels: {}, driverOpts: {}, anonymous: true }, v(ctx))) as volumesV1.Volume;
        await call(v(ctx).createVolume, { name: named, driver: 'local', labels: {}, driverOpts: {}, anonymous: false }, v(ctx));
        const pruned = (await call(v(ctx).pruneVolumes, { filtersJson: '' }, v(ctx))) as volumesV1.PruneVolumesResponse;
        check(pruned.deleted.includes(anon.name), `prune did not take the anonymous ${anon.name}`);
        check(!pruned.deleted.includes(named), 'prune took a named volume without all=true');
        await call(v(ctx).removeVolume, { name: named, force: true }, v(ctx));
      },
    },
    {
      name: 'Remove of the child, then of the parent; a second Remove is NOT_FOUND',
      async run(ctx) {
        await call(s(ctx).remove, { key: child }, s(ctx));
        await call(s(ctx).remove, { key: base }, s(ctx));
        await rejectsWith(call(s(ctx).remove, { key: base }, s(ctx)), 'not_found', 'second Remove');
        await rejectsWith(call(s(ctx).stat, { key: base }, s(ctx)), 'not_found', 'Stat after Remove');
      },
    },
  ];

  return {
    service: 'snapshotter',
    cases,
    async cleanup(ctx) {
      for (const m of [...mounted]) await umount(m).catch(() => undefined);
      for (const key of [child, `${run}-view`, `${run}-evil`, base]) await call(s(ctx).remove, { key }, s(ctx)).catch(() => undefined);
      await call(v(ctx).releaseContainer, { containerId: container, removeAnonymous: false }, v(ctx)).catch(() => undefined);
      await call(v(ctx).removeVolume, { name: volume, force: true }, v(ctx)).catch(() => undefined);
      snaps?.close();
      vols?.close();
    },
  };
}
