import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { supervisorV1 } from '@berth/proto';
import { type Case, check, equal, eventually, type Kit, type KitContext, Peer, rejectsWith, sh, unique } from './kit';

/** The image the supervisor kit creates its containers from: it must be in the images service the endpoint uses. */
export const SUPERVISOR_KIT_IMAGE = 'busybox:latest';

/**
 * The supervisor contract (berth.supervisor.v1 Containers): the container lifecycle as its
 * comments promise it, name/ID/prefix lookups, archives, execs, commits, errors by kind, repeat
 * calls, and a running container kept running (same process) across a restart of the endpoint.
 * It needs `SUPERVISOR_KIT_IMAGE` present; it removes its containers, and leaves the one image
 * it commits (tagged with the kit's run name) to whoever owns the images service.
 */
export function supervisorKit(): Kit {
  const run = unique('kit');
  const name = `${run}-main`;
  const renamed = `${run}-renamed`;
  let address = '';
  const sup = new Peer('supervisor', supervisorV1.ContainersClient, () => address);
  const ids = new Set<string>();
  let id = '';
  let pid = 0;

  const create = async (containerName: string, body: object) => {
    const res = await sup.call<supervisorV1.CreateContainerResponse>('createContainer', { name: containerName, bodyJson: Buffer.from(JSON.stringify(body)) });
    ids.add(res.id);
    return res;
  };
  const get = (reference: string) => sup.call<supervisorV1.Container>('getContainer', { reference });
  const body = (cmd: string[], extra: object = {}) => ({ Image: SUPERVISOR_KIT_IMAGE, Cmd: cmd, Labels: { kit: run }, HostConfig: {}, ...extra });
  /** WaitContainer: resolves once the waiter is registered, with a promise of the exit. */
  const wait = (reference: string, condition = 'not-running') =>
    new Promise<{ registered: Promise<void>; exit: Promise<supervisorV1.WaitContainerResponse> }>((resolveOuter) => {
      const c = sup.client;
      const stream = c.waitContainer({ reference, condition }, { deadline: Date.now() + 120_000 });
      let onRegistered: () => void = () => undefined;
      const registered = new Promise<void>((r) => (onRegistered = r));
      const exit = new Promise<supervisorV1.WaitContainerResponse>((resolve, reject) => {
        stream.on('data', (m: supervisorV1.WaitContainerResponse) => (m.registered ? onRegistered() : resolve(m)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('WaitContainer ended without an exit')));
      });
      exit.catch(() => undefined);
      resolveOuter({ registered, exit });
    });
  const tar = async (ctx: KitContext, dir: string, args: string[]) => {
    const file = join(ctx.scratch, `${dir}.tar`);
    await sh('tar', ['-cf', file, ...args]);
    return readFileSync(file);
  };

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run() {
        const info = await sup.call<{ name: string; contracts: string[] }>('info', {});
        check(info.name, 'Info has no name');
        check(info.contracts.some((x) => x.startsWith('berth.supervisor.v1')), `Info lists no berth.supervisor.v1 contract: ${info.contracts.join(', ')}`);
      },
    },
    {
      name: 'CreateContainer records a created container, found by ID, name and ID prefix; a taken name is ALREADY_EXISTS; an unknown image is NOT_FOUND',
      async run() {
        const res = await create(name, body(['sh', '-c', 'echo kit-out; trap "exit 0" TERM; while true; do sleep 1; done']));
        id = res.id;
        check(/^[0-9a-f]{64}$/.test(id), `container ID ${id}`);
        for (const ref of [id, name, id.slice(0, 12)]) {
          const c = await get(ref);
          equal([c.id, c.name.replace(/^\//, ''), c.status], [id, name, 'created'], `GetContainer ${ref}`);
        }
        equal((await get(id)).labels.kit, run, 'labels');
        const inspect = JSON.parse(Buffer.from((await get(id)).inspectJson).toString()) as { Id: string; State: { Status: string } };
        equal([inspect.Id, inspect.State.Status], [id, 'created'], 'inspect_json');
        await rejectsWith(create(name, body(['true'])), 'already_exists', 'a second container of one name');
        await rejectsWith(create(`${run}-noimg`, { ...body(['true']), Image: `berth-kit/${run}:none` }), 'not_found', 'an unknown image');
        await rejectsWith(sup.call('createContainer', { name: `${run}-bad`, bodyJson: Buffer.from('{not json') }), 'invalid_argument', 'a body that is not JSON');
        await rejectsWith(get(`${run}-none`), 'not_found', 'GetContainer of an unknown container');
      },
    },
    {
      name: 'ListContainers shows a created container only with all',
      async run() {
        const running = await sup.call<supervisorV1.ListContainersResponse>('listContainers', { all: false });
        check(!running.containers.some((c) => c.id === id), 'a created container is listed without all');
        const all = await sup.call<supervisorV1.ListContainersResponse>('listContainers', { all: true });
        check(all.containers.some((c) => c.id === id), 'the created container is not listed with all');
      },
    },
    {
      name: 'an ID prefix two containers share is FAILED_PRECONDITION',
      async run() {
        // Among 17 IDs two must share a first hex digit; usually a few creates find one.
        const seen = new Map<string, string>([[id[0]!, id]]);
        let shared = '';
        for (let i = 0; !shared && i < 16; i++) {
          const x = (await create(`${run}-prefix-${i}`, body(['true']))).id;
          if (seen.has(x[0]!)) shared = x[0]!;
          else seen.set(x[0]!, x);
        }
        check(shared, 'no two IDs shared a first digit');
        const { containers } = await sup.call<supervisorV1.ListContainersResponse>('listContainers', { all: true });
        const owners = containers.filter((c) => c.id.startsWith(shared));
        if (owners.length > 1) await rejectsWith(get(shared), 'failed_precondition', `GetContainer of the shared prefix ${shared}`);
        else throw new Error(`the prefix ${shared} names ${owners.length} container(s)`);
      },
    },
    {
      name: 'StartContainer runs it; a second start says already; ShimAddress names a socket; an unknown container is NOT_FOUND',
      async run() {
        equal((await sup.call<supervisorV1.StartContainerResponse>('startContainer', { reference: id })).already, false, 'first start');
        const c = await get(id);
        equal(c.status, 'running', 'status after start');
        pid = c.pid;
        check(pid > 0, `pid ${pid}`);
        equal((await sup.call<supervisorV1.StartContainerResponse>('startContainer', { reference: id })).already, true, 'second start');
        const shim = await sup.call<supervisorV1.ShimAddressResponse>('shimAddress', { reference: id });
        check(shim.address.startsWith('unix://'), `shim address ${shim.address}`);
        await rejectsWith(sup.call('startContainer', { reference: `${run}-none` }), 'not_found', 'StartContainer of an unknown container');
        const running = await sup.call<supervisorV1.ListContainersResponse>('listContainers', { all: false });
        check(running.containers.some((x) => x.id === id), 'the running container is not listed');
      },
    },
    {
      name: 'TopContainer and ContainerStats see the running process',
      async run() {
        const top = await sup.call<supervisorV1.TopContainerResponse>('topContainer', { reference: id, psArgs: '' });
        check(top.titles.includes('PID'), `top titles ${top.titles.join(' ')}`);
        check(top.processes.some((p) => p.columns.some((col) => col.includes('sh -c'))), `top rows ${JSON.stringify(top.processes)}`);
        const stats = await sup.call<supervisorV1.ContainerStatsResponse>('containerStats', { reference: id });
        equal(stats.running, true, 'stats of a running container');
        const s = JSON.parse(Buffer.from(stats.statsJson).toString()) as { memory_stats?: { usage?: number }; pids_stats?: { current?: number } };
        check((s.memory_stats?.usage ?? 0) > 0, `memory usage ${JSON.stringify(s.memory_stats)}`);
      },
    },
    {
      name: 'CreateExec, StartExec and InspectExec; an exec starts once; an unknown exec is NOT_FOUND',
      async run() {
        const ex = await sup.call<supervisorV1.CreateExecResponse>('createExec', { reference: id, bodyJson: Buffer.from(JSON.stringify({ Cmd: ['echo', 'exec'], AttachStdout: true })) });
        const started = await sup.call<supervisorV1.StartExecResponse>('startExec', { id: ex.id });
        equal(started.containerId, id, 'container of the exec');
        const proc = JSON.parse(Buffer.from(started.processJson).toString()) as { args: string[] };
        equal(proc.args, ['echo', 'exec'], 'the exec\'s OCI process args');
        check(started.shimAddress.startsWith('unix://'), `exec shim address ${started.shimAddress}`);
        const inspect = JSON.parse(Buffer.from((await sup.call<supervisorV1.InspectExecResponse>('inspectExec', { id: ex.id })).inspectJson).toString()) as { ID: string; ContainerID: string };
        equal([inspect.ID, inspect.ContainerID], [ex.id, id], 'InspectExec');
        await rejectsWith(sup.call('startExec', { id: ex.id }), 'conflict', 'a second StartExec');
        await rejectsWith(sup.call('inspectExec', { id: `${run}none` }), 'not_found', 'InspectExec of an unknown exec');
        await rejectsWith(sup.call('createExec', { reference: id, bodyJson: Buffer.from(JSON.stringify({ Cmd: [] })) }), 'invalid_argument', 'an exec without a command');
      },
    },
    {
      name: 'PutArchive, StatContainerPath, GetArchive and ContainerChanges agree; an escaping entry is INVALID_ARGUMENT; a missing path is NOT_FOUND',
      async run(ctx) {
        const dir = join(ctx.scratch, 'put');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'kit.txt'), `${run}\n`);
        const data = await tar(ctx, 'put', ['-C', dir, 'kit.txt']);
        await sup.write('putArchive', [{ reference: id, path: '/tmp', noOverwriteDirNonDir: false, copyUidGid: false, data }]);
        const stat = await sup.call<supervisorV1.ContainerPathStat>('statContainerPath', { reference: id, path: '/tmp/kit.txt' });
        equal([stat.name, Number(stat.size)], ['kit.txt', run.length + 1], 'StatContainerPath');
        const chunks = await sup.read<supervisorV1.ArchiveChunk>('getArchive', { reference: id, path: '/tmp/kit.txt' });
        equal(chunks[0]?.stat?.name, 'kit.txt', 'the stat in the first GetArchive message');
        const got = join(ctx.scratch, 'got.tar');
        writeFileSync(got, Buffer.concat(chunks.map((c) => Buffer.from(c.data))));
        equal(await sh('tar', ['-xOf', got, 'kit.txt']), `${run}\n`, 'the file in GetArchive');
        const { changes } = await sup.call<supervisorV1.ContainerChangesResponse>('containerChanges', { reference: id });
        check(changes.some((c) => c.path === '/tmp/kit.txt' && c.kind === 1), `ContainerChanges lacks the added /tmp/kit.txt: ${JSON.stringify(changes)}`);
        const evil = await tar(ctx, 'evil', ['-C', dir, '--transform', 's,^kit.txt,../../../../escape.txt,', '-P', 'kit.txt']);
        await rejectsWith(sup.write('putArchive', [{ reference: id, path: '/tmp', noOverwriteDirNonDir: false, copyUidGid: false, data: evil }]), 'invalid_argument', 'PutArchive of an escaping entry');
        await rejectsWith(sup.call('statContainerPath', { reference: id, path: `/tmp/${run}-none` }), 'not_found', 'StatContainerPath of a missing path');
      },
    },
    {
      name: 'PauseContainer and UnpauseContainer; pausing twice is CONFLICT; UpdateContainer takes a limit and refuses a bad one',
      async run() {
        await sup.call('pauseContainer', { reference: id });
        equal((await get(id)).status, 'paused', 'status after pause');
        await rejectsWith(sup.call('pauseContainer', { reference: id }), 'conflict', 'a second pause');
        await sup.call('unpauseContainer', { reference: id });
        equal((await get(id)).status, 'running', 'status after unpause');
        await rejectsWith(sup.call('unpauseContainer', { reference: id }), 'conflict', 'unpause of a running container');
        const up = await sup.call<supervisorV1.UpdateContainerResponse>('updateContainer', { reference: id, bodyJson: Buffer.from(JSON.stringify({ Memory: 64 << 20, MemorySwap: 128 << 20 })) });
        check(Array.isArray(up.warnings), 'UpdateContainer warnings');
        const hc = (JSON.parse(Buffer.from((await get(id)).inspectJson).toString()) as { HostConfig: { Memory: number } }).HostConfig;
        equal(hc.Memory, 64 << 20, 'Memory after UpdateContainer');
        await rejectsWith(sup.call('updateContainer', { reference: id, bodyJson: Buffer.from(JSON.stringify({ Memory: 128 << 20, MemorySwap: 64 << 20 })) }), 'invalid_argument', 'a swap limit below the memory limit');
        await rejectsWith(sup.call('updateContainer', { reference: `${run}-none`, bodyJson: Buffer.from('{}') }), 'not_found', 'UpdateContainer of an unknown container');
      },
    },
    {
      name: 'RenameContainer; a taken name is refused; DisconnectNetwork and ConnectNetwork of the default bridge',
      async run() {
        await sup.call('renameContainer', { reference: name, newName: renamed });
        equal((await get(renamed)).id, id, 'the container by its new name');
        await rejectsWith(get(name), 'not_found', 'the old name');
        const other = await create(`${run}-other`, body(['true']));
        await rejectsWith(sup.call('renameContainer', { reference: other.id, newName: renamed }), 'already_exists', 'rename to a taken name');
        await sup.call('disconnectNetwork', { reference: id, network: 'bridge', force: false });
        const off = JSON.parse(Buffer.from((await get(id)).inspectJson).toString()) as { NetworkSettings: { Networks: Record<string, unknown> } };
        check(!('bridge' in off.NetworkSettings.Networks), `still on bridge after DisconnectNetwork: ${Object.keys(off.NetworkSettings.Networks).join(', ')}`);
        await sup.call('connectNetwork', { reference: id, network: 'bridge', ipv4Address: '', aliases: [] });
        const on = JSON.parse(Buffer.from((await get(id)).inspectJson).toString()) as { NetworkSettings: { Networks: Record<string, unknown> } };
        check('bridge' in on.NetworkSettings.Networks, 'not on bridge after ConnectNetwork');
        await rejectsWith(sup.call('connectNetwork', { reference: id, network: `${run}-none`, ipv4Address: '', aliases: [] }), 'not_found', 'ConnectNetwork to an unknown network');
      },
    },
    {
      name: 'a running container keeps running, with the same process, across a restart of the endpoint',
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        sup.close();
        const c = await get(id);
        equal([c.status, c.pid], ['running', pid], 'status and pid after restart');
        check(Number(await sh('sh', ['-c', `kill -0 ${pid} && echo 1`])) === 1, `the container's process ${pid} is gone`);
      },
    },
    {
      name: 'WaitContainer registers, then reports the exit StopContainer causes; a second stop says already; KillContainer of a stopped container is FAILED_PRECONDITION',
      async run() {
        const w = await wait(id);
        await w.registered;
        equal((await sup.call<supervisorV1.StopContainerResponse>('stopContainer', { reference: id, timeoutSeconds: 10, signal: '' })).already, false, 'first stop');
        equal((await w.exit).exitCode, 0, 'exit code of a container that exits on SIGTERM');
        const c = await get(id);
        equal([c.status, c.exitCode], ['exited', 0], 'state after stop');
        equal((await sup.call<supervisorV1.StopContainerResponse>('stopContainer', { reference: id, timeoutSeconds: 1, signal: '' })).already, true, 'second stop');
        await rejectsWith(sup.call('killContainer', { reference: id, signal: 'KILL' }), 'failed_precondition', 'KillContainer of a stopped container');
        await rejectsWith(sup.call('createExec', { reference: id, bodyJson: Buffer.from(JSON.stringify({ Cmd: ['true'] })) }), 'failed_precondition', 'CreateExec in a stopped container');
      },
    },
    {
      name: 'RestartContainer runs it again; KillContainer ends it with 137',
      async run() {
        await sup.call('restartContainer', { reference: id, timeoutSeconds: 1, signal: '' });
        const c = await get(id);
        equal(c.status, 'running', 'status after restart');
        check(c.pid !== pid, 'a restarted container has a new process');
        await rejectsWith(sup.call('killContainer', { reference: id, signal: 'NOSUCHSIGNAL' }), 'invalid_argument', 'KillContainer with an unknown signal');
        await sup.call('killContainer', { reference: id, signal: 'KILL' });
        await eventually(async () => (await get(id)).status === 'exited', 'the killed container exits');
        equal((await get(id)).exitCode, 137, 'exit code after SIGKILL');
      },
    },
    {
      name: 'CommitContainer makes an image of the changes; ExportContainer streams the whole root',
      async run(ctx) {
        const img = await sup.call<supervisorV1.CommitContainerResponse>('commitContainer', { reference: id, tag: `berth-kit/${run}:committed`, comment: 'kit', author: 'kit', changes: [], pause: false, configJson: Buffer.alloc(0), replaceConfig: false, createdBy: '' });
        check(/^sha256:[0-9a-f]{64}$/.test(img.id), `committed image ID ${img.id}`);
        const fromCommit = await create(`${run}-fromcommit`, { ...body(['cat', '/tmp/kit.txt']), Image: `berth-kit/${run}:committed` });
        check(fromCommit.id, 'no container from the committed image');
        const chunks = await sup.read<supervisorV1.ArchiveChunk>('exportContainer', { reference: id });
        const file = join(ctx.scratch, 'export.tar');
        writeFileSync(file, Buffer.concat(chunks.map((c) => Buffer.from(c.data))));
        const names = (await sh('tar', ['-tf', file])).split('\n').map((n) => n.replace(/^\.?\//, ''));
        check(names.includes('tmp/kit.txt') && names.some((n) => n.startsWith('bin/')), `the export lacks tmp/kit.txt or bin/: ${names.slice(0, 20).join(' ')}`);
      },
    },
    {
      name: 'DeleteContainer of a running container needs force (CONFLICT); removal is final; PruneContainers takes stopped ones',
      async run() {
        const live = await create(`${run}-live`, body(['sleep', '1000']));
        await sup.call('startContainer', { reference: live.id });
        await rejectsWith(sup.call('deleteContainer', { reference: live.id, force: false, removeVolumes: false }), 'conflict', 'DeleteContainer of a running container');
        const w = await wait(live.id, 'removed');
        await w.registered;
        await sup.call('deleteContainer', { reference: live.id, force: true, removeVolumes: true });
        await w.exit;
        await rejectsWith(get(live.id), 'not_found', 'GetContainer after DeleteContainer');
        await rejectsWith(sup.call('deleteContainer', { reference: live.id, force: true, removeVolumes: false }), 'not_found', 'a second DeleteContainer');
        const pruned = await sup.call<supervisorV1.PruneContainersResponse>('pruneContainers', { filtersJson: JSON.stringify({ label: [`kit=${run}`] }) });
        check(pruned.deleted.includes(id), `PruneContainers did not take the stopped ${id}: ${pruned.deleted.join(', ')}`);
        await rejectsWith(get(id), 'not_found', 'a pruned container');
        for (const x of pruned.deleted) ids.delete(x);
        ids.delete(live.id);
      },
    },
  ];

  return {
    service: 'supervisor',
    cases,
    setup(ctx) {
      address = ctx.address;
      mkdirSync(ctx.scratch, { recursive: true });
    },
    async cleanup() {
      for (const x of ids) await sup.call('deleteContainer', { reference: x, force: true, removeVolumes: true }).catch(() => undefined);
      sup.close();
    },
  };
}
