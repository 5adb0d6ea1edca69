import { join } from 'node:path';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { imagesV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { RecordStore } from '@berth/store';
import { contentService, imagesService } from './api/images-service';
import { ContentStore } from './domain/content-store';
import { ImageStore, type ImageRecord } from './domain/image-store';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'images',
  version: VERSION,
  setup({ server, dataDir, logger }) {
    const content = new ContentStore(join(dataDir, 'content'));
    content.reconcile();
    const records = new RecordStore<ImageRecord>(join(dataDir, 'images')).load((id, err) =>
      logger.error({ id, err }, 'unreadable image record'),
    );
    const images = new ImageStore(records, content);
    const dropped = images.reconcile();
    if (dropped.length) logger.warn({ dropped }, 'dropped image records whose blobs are gone');
    server.add<imagesV1.ImagesServer>('berth.images.v1', imagesV1.ImagesService, imagesService(images, content));
    // Content is a second contract of the same package; it needs no Info of its own.
    server.server.addService(imagesV1.ContentService, contentService(content) as unknown as UntypedServiceImplementation);
  },
});
