import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Peers } from '@berth/clients';
import { messageOf } from '@berth/errors';
import { builderV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { builderService } from './api/builder-service';
import { Engine } from './clients/engine';
import { BUILD_LABEL, hostPlatform } from './domain/build';
import { BuildCache } from './domain/cache';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'builder',
  version: VERSION,
  details: () => ({ builder: 'classic', platform: hostPlatform() }),
  async setup({ server, dataDir, logger, config, onClose }) {
    const peers = new Peers(config);
    onClose(() => peers.close());
    const engine = new Engine(peers);
    // Builds cut off by a kill leave their context and step containers: both are this
    // service's own, and no build survives a restart, so they go now.
    const work = join(dataDir, 'builds');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true, mode: 0o700 });
    void engine
      .listContainerIdsWithLabel(BUILD_LABEL)
      .then(async (ids) => {
        for (const id of ids) await engine.removeContainer(id).catch((err: unknown) => logger.warn({ id, err: messageOf(err) }, 'could not remove a step container'));
        if (ids.length) logger.info({ count: ids.length }, 'removed step containers of interrupted builds');
      })
      .catch((err: unknown) => logger.warn({ err: messageOf(err) }, 'could not look for step containers of interrupted builds'));
    const cache = new BuildCache(join(dataDir, 'cache'));
    server.add<builderV1.BuilderServer>('berth.builder.v1', builderV1.BuilderService, builderService(engine, cache, work, logger));
  },
});
