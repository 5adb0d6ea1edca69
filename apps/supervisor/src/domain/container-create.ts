import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, messageOf } from '@berth/errors';
import { unary } from '@berth/clients';
import { newId } from '@berth/ids';
import { span, traced } from '@berth/logging';
import { buildSpec } from '@berth/oci-spec';
import { securitySpec, validateSecurity } from './security-opts';
import { chainIds } from '@berth/reference';
import { writeFileReplace } from '@berth/store';
import { writeFilesFor } from './container-files';
import { releaseMounts, setupMounts } from './container-mounts';
import { type ImageConfig, mergeConfig, parseCreateBody } from './create-config';
import { validateHealthcheck } from './health-config';
import { type LifecycleContext, bundleDir, filesDir, now } from './lifecycle-context';
import { linkEnv, linkHosts, resolveLinks } from './links';
import { shmDir } from './ipc-shm';
import { namespaceModes } from './namespace-modes';
import { daemonEnv } from './process-env';
import { CONTAINER_SNAPSHOT_LABEL } from './container-leftovers';
import { type ContainerRecord, type HostConfig, ZERO_TIME } from './model';
import { ociMounts } from './mounts';
import { generateName } from './names';
import {
  type Attachment, attach as attachNetwork, attachExtraNetworks, endpointSettings, joinTarget, networkChoice, portBindings, release as releaseNetwork,
} from './network-attach';
import { validateRestartPolicy } from './restart-policy';
import { readRootfsFiles } from './rootfs-files';
import { groupAddGids, validateLogConfig } from './host-config-defaults';
import { resolveUser } from './user';
import { adaptHostConfig, specResources } from './resources';
import { containerRemap, idMappingsFor, validateUserns } from './userns';
import { compressOn, parseSize } from './json-file-opts';
import { chooseMonitor } from './monitor-choice';
import { preparable, prepareRuntime } from './prepare-runtime';

const TINI = '/usr/bin/tini-static';

/**
 * docker create: the record, its rootfs snapshot, networking, mounts, the OCI bundle and the
 * shim's config. A failure before the record is written undoes every step.
 */
export async function createContainer(ctx: LifecycleContext, nameIn: string, bodyJson: Uint8Array): Promise<{ id: string; warnings: string[] }> {
  const body = parseCreateBody(Buffer.from(bodyJson));
  validateHealthcheck(body.Healthcheck);
  const { containers, peers } = ctx.d;
  const name = nameIn ? containers.checkName(nameIn) : generateName((n) => containers.all().some((c) => c.name === n));
  const hostConfig: HostConfig = { ...(body.HostConfig ?? {}) };
  validateRestartPolicy(hostConfig.RestartPolicy, hostConfig.AutoRemove ?? false);
  const security = validateSecurity(hostConfig);
  validateUserns(ctx.d.config, hostConfig);
  validateLogConfig(hostConfig);
  const warnings: string[] = adaptHostConfig(hostConfig);
  const mode = hostConfig.NetworkMode || 'default';
  const choice = networkChoice(mode);
  const joined = choice.kind === 'container' ? joinTarget(containers.get(choice.ref), hostConfig, body.Hostname ?? '') : undefined;
  const id = newId();
  const namespaces = namespaceModes(containers, hostConfig, body.Hostname ?? '', shmDir(ctx.d, id));
  const links = resolveLinks(containers, hostConfig.Links as string[] | undefined);
  if (choice.kind === 'host' && (Object.keys(hostConfig.PortBindings ?? {}).length || hostConfig.PublishAllPorts)) {
    warnings.push('Published ports are discarded when using host network mode');
  }
  hostConfig.NetworkMode = mode;
  const runtime = hostConfig.Runtime || ctx.d.config.defaultRuntime;
  const rt = ctx.d.config.runtimes[runtime];
  if (!rt) throw invalidArgument(`unknown or invalid runtime name: ${runtime}`);
  // Inspect shows the runtime the container got, the daemon's default included, as dockerd does.
  hostConfig.Runtime = runtime;

  const images = peers.images;
  const image = await traced('create: images.getImage', '', unary('images', images.getImage.bind(images), { reference: body.Image! }));
  const imageDoc = JSON.parse(Buffer.from(image.configJson).toString('utf8') || '{}') as { config?: ImageConfig };
  const merged = mergeConfig(body, imageDoc.config ?? {}, id);
  const chain = chainIds(image.diffIds);
  const snaps = peers.snapshots;
  const bundle = bundleDir(ctx.d, id);
  const files = filesDir(ctx.d, id);
  let attached: Attachment | undefined;
  let extra: Attachment[] = [];
  ctx.creating.add(id);
  // Only what was made is undone: a snapshotter that is gone must fail the create at once, not
  // again in the undo's calls to it.
  let snapshotMade = false;
  // The rootfs snapshot and the network endpoint are independent: prepared side by side. Both
  // have settled before the undo below runs, so it never races a step still on its way.
  const preparing = traced('create: snapshotter.prepare', id, unary('snapshotter', snaps.prepare.bind(snaps), { key: id, parent: chain[chain.length - 1] ?? '', labels: { [CONTAINER_SNAPSHOT_LABEL]: id } }));
  try {
    const networking = (async () => {
      if (choice.kind !== 'network') return;
      const eps = endpointSettings(body.NetworkingConfig, choice.name);
      const ports = portBindings(merged.config, hostConfig);
      const dns = hostConfig.Dns?.length ? hostConfig.Dns : ctx.d.config.dns;
      // Config.MacAddress (API < 1.44, docker-py, the 20.10 CLI) or the endpoint's own.
      const mac = eps.mac || (typeof body.MacAddress === 'string' ? body.MacAddress : '');
      attached = await attachNetwork(peers, { containerId: id, containerName: name, network: choice.name, ip: eps.ip, aliases: eps.aliases, ports, dns, mac });
      extra = await attachExtraNetworks(peers, id, name, choice.name, body.NetworkingConfig, dns);
    })();
    const [prepared, networked] = await Promise.allSettled([preparing, networking]);
    if (prepared.status === 'rejected') throw prepared.reason;
    snapshotMade = true;
    if (networked.status === 'rejected') throw networked.reason;
    const { mounts } = prepared.value;
    let end = span('create: bundle dirs, mounts, files', id);
    mkdirSync(bundle, { recursive: true, mode: 0o711 });
    mkdirSync(files, { recursive: true, mode: 0o710 });
    const mountPoints = await setupMounts(peers, containers, id, body, hostConfig, imageDoc.config?.Volumes);
    const rec: ContainerRecord = {
      id,
      name,
      created: now(),
      image: body.Image!,
      imageId: image.id,
      config: merged.config,
      hostConfig,
      networkingConfig: body.NetworkingConfig ?? null,
      state: {
        Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
        Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
      },
      restartCount: 0,
      manuallyStopped: false,
      path: merged.path,
      args: merged.args,
      rootfsKey: id,
      bundle,
      shimSocket: join(ctx.d.config.execRoot, 'shims', `${id.slice(0, 12)}.sock`),
      logPath: join(files, `${id}-json.log`),
      resolvConfPath: join(files, 'resolv.conf'),
      hostnamePath: join(files, 'hostname'),
      hostsPath: join(files, 'hosts'),
      driver: ctx.d.config.storageDriver,
      networks: attached ? [attached, ...extra] : undefined,
      joinedContainer: joined?.rec.id,
      mounts: mountPoints,
      shmPath: typeof namespaces.ipc?.shm === 'string' ? namespaces.ipc.shm : undefined,
    };
    // A joined container shares its host's names along with its interfaces.
    if (joined) Object.assign(rec, { resolvConfPath: joined.rec.resolvConfPath, hostnamePath: joined.rec.hostnamePath, hostsPath: joined.rec.hostsPath });
    else writeFilesFor(rec, ctx.d.config, linkHosts(links));
    end();
    end = span('create: spec, bundle writes, record', id);
    const etc = merged.config.User || hostConfig.GroupAdd?.length ? await readRootfsFiles(mounts, ['etc/passwd', 'etc/group']) : ['', ''];
    const base = resolveUser(merged.config.User, etc[0]!, etc[1]!);
    const extraGids = groupAddGids(hostConfig.GroupAdd, etc[1]!).filter((g) => g !== base.gid && !base.additionalGids.includes(g));
    const user = { ...base, additionalGids: [...base.additionalGids, ...extraGids] };
    const spec = buildSpec({
      id,
      args: [merged.path, ...merged.args],
      env: daemonEnv({ tty: merged.config.Tty, hostname: merged.config.Hostname, links: linkEnv(links, name), env: merged.config.Env }),
      cwd: merged.config.WorkingDir || '/',
      user,
      hostname: merged.config.Hostname,
      tty: merged.config.Tty,
      consoleSize: hostConfig.ConsoleSize && hostConfig.ConsoleSize[0] > 0 ? hostConfig.ConsoleSize : undefined,
      privileged: hostConfig.Privileged,
      capAdd: hostConfig.CapAdd ?? [],
      capDrop: hostConfig.CapDrop ?? [],
      readonlyRootfs: hostConfig.ReadonlyRootfs,
      network: attached ? { mode: 'path', path: attached.netnsPath } : (joined?.spec ?? { mode: choice.kind === 'host' ? 'host' : 'none' }),
      ...namespaces,
      shmSizeBytes: hostConfig.ShmSize,
      memoryBytes: hostConfig.Memory,
      nanoCpus: hostConfig.NanoCpus,
      cpuShares: hostConfig.CpuShares,
      pidsLimit: hostConfig.PidsLimit ?? undefined,
      sysctls: hostConfig.Sysctls ?? undefined,
      ...securitySpec(hostConfig, security),
      initBinary: hostConfig.Init ? TINI : undefined,
      files: { hosts: rec.hostsPath, resolvConf: rec.resolvConfPath, hostname: rec.hostnamePath },
      extraMounts: ociMounts(mountPoints),
      ...specResources(hostConfig),
      idMappings: idMappingsFor(containerRemap(ctx.d.config, hostConfig)),
    });
    const logOpts = { ...ctx.d.config.logOpts, ...(hostConfig.LogConfig?.Config ?? {}) };
    const monitor = chooseMonitor(ctx.d.config.defaultMonitor, { tty: merged.config.Tty, openStdin: merged.config.OpenStdin, logDriver: hostConfig.LogConfig?.Type || 'json-file' });
    if (monitor) {
      rec.monitor = monitor;
      // conmon writes the k8s-file format; LogPath names the file that is really there.
      rec.logPath = rec.logPath.replace(/-json\.log$/, '-k8s.log');
    }
    // The bundle is under the exec root, which a reboot empties: a power loss takes it either way.
    writeFileReplace(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    writeFileReplace(join(bundle, 'rootfs-mounts.json'), JSON.stringify(mounts));
    writeFileReplace(
      join(bundle, 'shim.json'),
      JSON.stringify({
        id,
        socket: rec.shimSocket,
        runtime: { path: rt.path, args: rt.runtimeArgs ?? [] },
        runtimeRoot: join(ctx.d.config.execRoot, 'runtime', runtime),
        logPath: rec.logPath,
        logMaxSize: parseSize(logOpts['max-size']),
        logMaxFile: Math.max(1, Number(logOpts['max-file'] ?? 1) || 1),
        logCompress: compressOn(logOpts),
        logDriver: hostConfig.LogConfig?.Type || 'json-file',
        tty: merged.config.Tty,
        openStdin: merged.config.OpenStdin,
        stdinOnce: merged.config.StdinOnce,
      }),
    );
    mkdirSync(join(ctx.d.config.execRoot, 'shims'), { recursive: true, mode: 0o700 });
    containers.save(rec);
    // The shim is wanted now so that an attach before start sees every byte; if it cannot
    // come up, start (or attach) will try again and report the reason.
    end();
    // A monitor that is adopting the container begins its prepare at once (prepareRuntime below joins it).
    const ensured = await traced('create: monitor ensure', id, ctx.shims.ensure(rec, { prepare: preparable(rec) })).then(
      () => true,
      (err: unknown) => {
        ctx.d.logger.warn({ id, err: messageOf(err) }, 'shim did not start at create');
        return false;
      },
    );
    if (ensured) prepareRuntime(ctx, rec);
    ctx.d.event('create', rec);
    return { id, warnings };
  } catch (err) {
    if (!containers.byId(id)) {
      if (snapshotMade) {
        await releaseMounts(peers, id, true, ctx.d.logger).catch(() => undefined);
        await unary('snapshotter', snaps.remove.bind(snaps), { key: id }).catch(() => undefined);
      }
      if (choice.kind === 'network') await releaseNetwork(peers, id).catch(() => undefined);
      rmSync(bundle, { recursive: true, force: true });
      rmSync(files, { recursive: true, force: true });
    }
    throw err;
  } finally {
    ctx.creating.delete(id);
  }
}

export { parseSize };
