import { join } from 'node:path';
import { snapshotterV1, volumesV1 } from '@berth/proto';
import { EventLog } from '@berth/events';
import { resolveUsernsRemap } from '@berth/config';
import { runService } from '@berth/service-main';
import { snapshotsService } from './api/snapshots-service';
import { volumesService } from './api/volumes-service';
import { Volumes } from './domain/volumes';
import { Snapshotter } from './domain/snapshotter';
import { nativeDriver } from './drivers/native';
import { backingFilesystem } from './drivers/backing-fs';
import { overlayDriver, overlaySupported } from './drivers/overlay';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

let driverName = '';
let backingFs = '';

void runService({
  name: 'snapshotter',
  version: VERSION,
  details: () => ({ driver: driverName, 'backing-filesystem': backingFs }),
  async setup({ server, dataDir, config, logger, onClose }) {
    const want = config.storageDriver;
    if (want !== 'overlay2' && want !== 'native') {
      throw new Error(`storage driver ${JSON.stringify(want)} is not supported (choose overlay2 or native)`);
    }
    if (want === 'overlay2' && !overlaySupported()) {
      throw new Error('storage driver overlay2 needs overlay support in the kernel; set "storage-driver": "native"');
    }
    const snapshotter = new Snapshotter(dataDir, want === 'overlay2' ? overlayDriver : nativeDriver);
    const orphans = snapshotter.reconcile();
    if (orphans > 0) logger.warn({ orphans }, 'removed snapshot directories left by an interrupted operation');
    driverName = want;
    backingFs = backingFilesystem(dataDir);
    server.add<snapshotterV1.SnapshotsServer>('berth.snapshotter.v1', snapshotterV1.SnapshotsService, snapshotsService(snapshotter));
    // Docker keeps volumes at <data-root>/volumes; users and tools look for them there.
    const events = new EventLog(config.redis);
    onClose(() => events.close());
    const volumes = new Volumes(join(config.dataRoot, 'volumes'), join(config.execRoot, 'snapshotter', 'copy-up'), (key) => snapshotter.mounts(key), (action, name, attrs) => {
      events.publish('volume', action, name, attrs).catch((err: unknown) => logger.warn({ err, action }, 'could not publish event'));
    }, resolveUsernsRemap(config.usernsRemap, undefined, false));
    const { orphans: volumeOrphans } = await volumes.reconcile();
    if (volumeOrphans > 0) logger.warn({ orphans: volumeOrphans }, 'removed volume directories left by an interrupted operation');
    server.add<volumesV1.VolumesServer>('berth.snapshotter.v1.Volumes', volumesV1.VolumesService, volumesService(volumes));
  },
});
