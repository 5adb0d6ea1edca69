import { join } from 'node:path';
import { Peers } from '@berth/clients';
import { EventLog } from '@berth/events';
import { supervisorV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { RecordStore } from '@berth/store';
import { containersService } from './api/containers-service';
import { findMonitor } from './clients/monitor-client';
import { findShim } from './clients/shim-client';
import { Containers } from './domain/containers';
import { Execs } from './domain/execs';
import { engineId, runtimeVersion } from './domain/engine-facts';
import { Lifecycle } from './domain/lifecycle';
import { NetworkConnections } from './domain/network-connections';
import { ContainerRoots } from './domain/container-root';
import type { ContainerRecord } from './domain/model';
import { monitorCounts } from './domain/monitor-record';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

const facts: { engineId: string; runtimeVersion: string; containers?: Containers } = { engineId: '', runtimeVersion: '' };

void runService({
  name: 'supervisor',
  version: VERSION,
  details: (config) => ({
    runtime: config.defaultRuntime,
    runtimes: Object.keys(config.runtimes).join(','),
    'runtime-version': facts.runtimeVersion,
    'engine-id': facts.engineId,
    // Per monitor name and version, how many containers it serves (JSON), for `berth status`.
    monitors: JSON.stringify(facts.containers ? monitorCounts(facts.containers.all()) : {}),
  }),
  async setup({ server, dataDir, logger, config, onClose }) {
    facts.engineId = engineId(dataDir);
    const runtime = config.runtimes[config.defaultRuntime];
    if (!runtime) throw new Error(`default runtime ${JSON.stringify(config.defaultRuntime)} is not among the configured runtimes`);
    facts.runtimeVersion = runtimeVersion(runtime.path);
    const store = new RecordStore<ContainerRecord>(join(dataDir, 'records')).load((id, err) =>
      logger.error({ id, err }, 'unreadable container record'),
    );
    const containers = new Containers(store);
    facts.containers = containers;
    const peers = new Peers(config);
    const events = new EventLog(config.redis);
    onClose(() => events.close());
    const life = new Lifecycle({
      config,
      dataDir,
      containers,
      peers,
      shimPath: () => findShim(config.shimPath),
      monitorPath: () => findMonitor(config.monitorPath),
      logger,
      event: (action, rec, extra) => {
        events
          .publish('container', action, rec.id, { ...rec.config.Labels, image: rec.image, name: rec.name, ...extra })
          .catch((err: unknown) => logger.warn({ err, action }, 'could not publish event'));
      },
    });
    onClose(() => life.close());
    const roots = new ContainerRoots(join(config.execRoot, 'supervisor', 'roots'));
    const leftovers = await roots.cleanup();
    if (leftovers > 0) logger.warn({ leftovers }, 'removed container filesystem views left by an interrupted copy');
    onClose(() => peers.close());
    server.add<supervisorV1.ContainersServer>('berth.supervisor.v1', supervisorV1.ContainersService, containersService(containers, life, new Execs(containers), new NetworkConnections(containers, peers, logger), peers, roots, { maxExpandedBytes: config.maxUploadExpandedBytes, dir: config.dataRoot }));
    // Reconcile after serving starts would race new requests; before it, peers may be restarting:
    // run it now but do not hold start-up on a slow shim.
    void life.reconcile().catch((err: unknown) => logger.error({ err }, 'reconcile failed'));
  },
});
