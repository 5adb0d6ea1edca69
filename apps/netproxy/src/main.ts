import { netproxyV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { RecordStore } from '@berth/store';
import { join } from 'node:path';
import { networksService } from './api/networks-service';
import { Networks, type NetworkRecord } from './domain/networks';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'netproxy',
  version: VERSION,
  details: () => ({ drivers: 'host,null' }),
  setup({ server, dataDir, logger }) {
    const store = new RecordStore<NetworkRecord>(join(dataDir, 'networks')).load((id, err) =>
      logger.error({ id, err }, 'unreadable network record'),
    );
    const networks = new Networks(store);
    networks.reconcile();
    server.add<netproxyV1.NetworksServer>('berth.netproxy.v1', netproxyV1.NetworksService, networksService(networks));
  },
});
