import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Peers } from '@berth/clients';
import { IDLE_EXIT_CODE } from '@berth/config';
import { messageOf } from '@berth/errors';
import { builderV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { builderService } from './api/builder-service';
import { Engine } from './clients/engine';
import { BUILD_LABEL, hostPlatform } from './domain/build';
import { BuildCache } from './domain/cache';
import { IdleWatch } from './domain/idle-watch';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'builder',
  version: VERSION,
  details: () => ({ builder: 'classic', platform: hostPlatform() }),
  async setup({ server, dataDir, logger, config, onClose, exit }) {
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
    const impl = builderService(engine, cache, work, logger);
    const idleMs = config.onDemandServices.includes('builder') ? (config.idleExitMs.builder ?? 0) : 0;
    if (idleMs > 0) {
      // Started on demand: leave after a quiet period; the launcher holds the socket again.
      const idle = new IdleWatch(idleMs, () => {
        logger.info({ idleMs }, 'idle: exiting until the next build');
        exit(IDLE_EXIT_CODE, 'idle');
      });
      onClose(() => idle.stop());
      const build = impl.build.bind(impl);
      const prune = impl.pruneCache.bind(impl);
      impl.build = (call) => {
        const end = idle.begin();
        for (const e of ['finish', 'close', 'error', 'cancelled']) call.once(e, end);
        build(call);
      };
      impl.pruneCache = (call, callback) => {
        const end = idle.begin();
        prune(call, (err, res) => {
          end();
          callback(err, res);
        });
      };
    }
    server.add<builderV1.BuilderServer>('berth.builder.v1', builderV1.BuilderService, impl);
  },
});
