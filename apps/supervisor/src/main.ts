import { join } from 'node:path';
import { supervisorV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { RecordStore } from '@berth/store';
import { containersService } from './api/containers-service';
import { Containers, type ContainerRecord } from './domain/containers';
import { engineId, runtimeVersion } from './domain/engine-facts';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

const facts = { engineId: '', runtimeVersion: '' };

void runService({
  name: 'supervisor',
  version: VERSION,
  details: (config) => ({
    runtime: config.defaultRuntime,
    runtimes: Object.keys(config.runtimes).join(','),
    'runtime-version': facts.runtimeVersion,
    'engine-id': facts.engineId,
  }),
  setup({ server, dataDir, logger, config }) {
    facts.engineId = engineId(dataDir);
    const runtime = config.runtimes[config.defaultRuntime];
    if (!runtime) throw new Error(`default runtime ${JSON.stringify(config.defaultRuntime)} is not among the configured runtimes`);
    facts.runtimeVersion = runtimeVersion(runtime.path);
    const store = new RecordStore<ContainerRecord>(join(dataDir, 'containers')).load((id, err) =>
      logger.error({ id, err }, 'unreadable container record'),
    );
    server.add<supervisorV1.ContainersServer>('berth.supervisor.v1', supervisorV1.ContainersService, containersService(new Containers(store)));
  },
});
