import { Router } from 'express';
import { type BerthConfig, resolveUsernsRemap, type ServiceName } from '@berth/config';
import { serviceInfo } from '@berth/clients';
import { messageOf } from '@berth/errors';
import type { types } from '@berth/proto';
import { MAX_API_VERSION, MIN_API_VERSION } from '../domain/api-version';
import { hostFacts, resourceInfo } from '../domain/host-facts';
import type { Backends } from '../domain/backends';

/** Whether containers get user namespaces (a remap onto root itself is off, as in dockerd). */
function usernsRemapped(config: BerthConfig): boolean {
  try {
    return resolveUsernsRemap(config.usernsRemap, undefined, false) !== undefined;
  } catch {
    return false;
  }
}

const INFO_DEADLINE_MS = 3_000;

/** What `docker version` shows for a service that starts on first use and has not yet. */
const IDLE_STATE = 'idle, starts on first use';

/**
 * Info of every service, or the error that kept one from answering; never throws. A service
 * started on demand and not running is left out: asking would start it.
 */
async function allInfos(config: BerthConfig, backends: Backends): Promise<Map<ServiceName, types.InfoResponse | Error>> {
  const names = (Object.keys(config.services) as ServiceName[]).filter((n) => backends.peers.awake(n));
  const results = await Promise.all(
    names.map((n) => serviceInfo(n, config.services[n], { deadlineMs: INFO_DEADLINE_MS }).catch((e: unknown) => e as Error)),
  );
  return new Map(names.map((n, i) => [n, results[i]!]));
}

export function systemRoutes(config: BerthConfig, version: string, backends: Backends): Router {
  const r = Router();

  r.all('/_ping', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).json({ message: `${req.method} not allowed on /_ping` });
      return;
    }
    res.setHeader('Builder-Version', '1');
    res.setHeader('Swarm', 'inactive');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Pragma', 'no-cache');
    res.type('text/plain').send(req.method === 'HEAD' ? '' : 'OK');
  });

  r.get('/version', async (_req, res) => {
    const host = hostFacts();
    const infos = await allInfos(config, backends);
    const runtime = infos.get('supervisor');
    const components = [
      {
        Name: 'Engine',
        Version: version,
        Details: {
          ApiVersion: MAX_API_VERSION,
          MinAPIVersion: MIN_API_VERSION,
          Arch: process.arch === 'x64' ? 'amd64' : process.arch,
          Os: 'linux',
          KernelVersion: host.kernelVersion,
          GitCommit: process.env.BERTH_GIT_COMMIT ?? '',
          GoVersion: `node ${process.version}`,
          BuildTime: '',
          Experimental: 'false',
        },
      },
      ...[...infos.entries()]
        .filter(([n]) => n !== 'gateway')
        .map(([n, i]) => ({
          Name: `berth-${n}`,
          Version: i instanceof Error ? 'unavailable' : i.version,
          Details: i instanceof Error ? { Error: messageOf(i) } : { Contracts: i.contracts.join(','), Pid: String(i.pid) },
        })),
      ...(Object.keys(config.services) as ServiceName[])
        .filter((n) => !infos.has(n))
        .map((n) => ({ Name: `berth-${n}`, Version: '-', Details: { State: IDLE_STATE } })),
    ];
    if (!(runtime instanceof Error) && runtime?.details['runtime-version']) {
      components.push({ Name: runtime.details.runtime ?? 'runc', Version: runtime.details['runtime-version']!, Details: {} as never });
    }
    res.json({
      Platform: { Name: 'Berth' },
      Components: components,
      Version: version,
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: process.env.BERTH_GIT_COMMIT ?? '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      KernelVersion: host.kernelVersion,
      BuildTime: '',
    });
  });

  r.get('/info', async (_req, res) => {
    const host = hostFacts();
    const limits = resourceInfo();
    const warnings: string[] = [];
    const infos = await allInfos(config, backends);
    for (const [n, i] of infos) if (i instanceof Error) warnings.push(`WARNING: ${n} service is unavailable: ${messageOf(i)}`);
    const counts = await backends.counts().catch((e: unknown) => {
      warnings.push(`WARNING: could not count containers and images: ${messageOf(e)}`);
      return { running: 0, paused: 0, stopped: 0, images: 0 };
    });
    const snap = infos.get('snapshotter');
    const sup = infos.get('supervisor');
    const driver = snap instanceof Error || !snap ? config.storageDriver : (snap.details.driver ?? config.storageDriver);
    const engineId = sup instanceof Error || !sup ? '' : (sup.details['engine-id'] ?? '');
    res.json({
      ID: engineId,
      Containers: counts.running + counts.paused + counts.stopped,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: counts.images,
      Driver: driver,
      DriverStatus: snap instanceof Error || !snap?.details['backing-filesystem'] ? [] : [['Backing Filesystem', snap.details['backing-filesystem']]],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      ...limits.flags,
      Debug: config.debug,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: config.logDriver,
      CgroupDriver: host.cgroupDriver,
      CgroupVersion: host.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: host.kernelVersion,
      OperatingSystem: host.operatingSystem,
      OSVersion: host.osVersion,
      OSType: 'linux',
      Architecture: host.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8'],
        IndexConfigs: {},
        Mirrors: config.registryMirrors,
      },
      NCPU: host.ncpu,
      MemTotal: host.memTotal,
      DockerRootDir: config.dataRoot,
      Name: host.name,
      Labels: config.labels,
      ExperimentalBuild: false,
      ServerVersion: version,
      Runtimes: Object.fromEntries(Object.entries(config.runtimes).map(([k, v]) => [k, { path: v.path }])),
      DefaultRuntime: config.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'tini',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: sup instanceof Error || !sup ? '' : (sup.details['runtime-version'] ?? '') },
      InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(usernsRemapped(config) ? ['name=userns'] : [])],
      Warnings: [...warnings, ...limits.warnings],
    });
  });

  return r;
}
