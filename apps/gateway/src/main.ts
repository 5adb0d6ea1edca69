import { Peers } from '@berth/clients';
import { EventLog } from '@berth/events';
import { gatewayV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { createApp } from './api/app';
import { upgradeHandler } from './api/hijack';
import { closeAll, listenAll } from './api/listeners';
import { serveMetrics } from './api/metrics-endpoint';
import { Backends } from './domain/backends';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'gateway',
  version: VERSION,
  survivesUncaught: true,
  details: (config) => ({ hosts: config.hosts.join(',') }),
  async setup({ config, server, logger, onClose }) {
    server.add<gatewayV1.GatewayServer>('berth.gateway.v1', gatewayV1.GatewayService, {});
    const backends = new Backends(new Peers(config));
    const events = new EventLog(config.redis);
    onClose(() => events.close());
    const listeners = await listenAll(config.hosts, createApp(config, VERSION, backends, events), upgradeHandler(backends), {
      tls: config.apiTls,
      socketGroup: config.socketGroup,
      warn: (message, host) => logger.warn({ host }, message),
    });
    logger.info({ hosts: config.hosts }, 'Engine API listening');
    onClose(() => closeAll(listeners));
    onClose(() => backends.close());
    if (config.metricsAddr) {
      const metrics = await serveMetrics(config, backends);
      logger.info({ address: config.metricsAddr }, 'metrics listening');
      onClose(() => new Promise<void>((resolve) => metrics.close(() => resolve())));
    }
  },
});
