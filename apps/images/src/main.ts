import { join } from 'node:path';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { imagesV1, snapshotterV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { Peers } from '@berth/clients';
import { EventLog } from '@berth/events';
import { type UnaryMethod, unary } from '@berth/grpc';
import { type LayerSnapshots, unpackImage } from './domain/unpack';
import { RecordStore } from '@berth/store';
import { contentService, imagesService } from './api/images-service';
import { jobProcessor, registryHandlers } from './api/registry-handlers';
import { CredentialVault } from './domain/credential-vault';
import { storeHandlers } from './api/store-handlers';
import type { SnapshotLister } from './domain/garbage';
import { RegistryServer } from './domain/registry-server';
import { DEFAULT_JOB_LOCK_MS, DEFAULT_PROGRESS_TTL_SECONDS, ImageJobs } from './domain/jobs';
import { Limiter } from './domain/limiter';
import { DEFAULT_REGISTRY_ATTEMPTS, DEFAULT_REGISTRY_BACKOFF_MS, DEFAULT_REGISTRY_TIMEOUT_MS } from './domain/registry-client';
import { ContentStore } from './domain/content-store';
import { ImageStore, type ImageRecord } from './domain/image-store';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

void runService({
  name: 'images',
  version: VERSION,
  setup({ server, dataDir, logger, config, onClose }) {
    const content = new ContentStore(join(dataDir, 'content'));
    content.reconcile();
    const records = new RecordStore<ImageRecord>(join(dataDir, 'images')).load((id, err) =>
      logger.error({ id, err }, 'unreadable image record'),
    );
    const images = new ImageStore(records, content);
    const dropped = images.reconcile();
    if (dropped.length) logger.warn({ dropped }, 'dropped image records whose blobs are gone');
    const peers = new Peers(config);
    onClose(() => peers.close());
    const snaps = peers.snapshots;
    const call = <Req, Res>(m: UnaryMethod<Req, Res>, req: Req) => unary('snapshotter', m.bind(snaps), req, { deadlineMs: 30 * 60_000 });
    const layerSnapshots: LayerSnapshots = {
      stat: (key) => call(snaps.stat, { key }),
      prepare: (key, parent) => call(snaps.prepare, { key, parent, labels: {} }),
      applyLayer: (key, blobPath, mediaType) => call(snaps.applyLayer, { key, blobPath, mediaType }),
      commit: (name, key) => call(snaps.commit, { name, key, labels: {} }),
      remove: (key) => call(snaps.remove, { key }),
    };
    const unpack = (img: ImageRecord) => unpackImage(img, content, layerSnapshots);
    const events = new EventLog(config.redis);
    onClose(() => events.close());
    const event = (action: string, id: string, name: string) => {
      events.publish('image', action, id, { name }).catch((err: unknown) => logger.warn({ err, action }, 'could not publish event'));
    };
    const leases = content.leases;
    const snapshotLister: SnapshotLister = {
      list: async () =>
        (await call(snaps.list, {})).snapshots.map((x) => ({
          name: x.name,
          parent: x.parent,
          kind: x.kind === snapshotterV1.Kind.KIND_COMMITTED ? 'committed' : 'active',
        })),
      remove: (key) => call(snaps.remove, { key }),
    };
    const registryDeps = {
      pull: { content, images, snaps: layerSnapshots, downloads: new Limiter(config.maxConcurrentDownloads), inflight: new Map(), timeoutMs: DEFAULT_REGISTRY_TIMEOUT_MS, leases },
      push: { content, images, uploads: new Limiter(config.maxConcurrentUploads) },
      registry: {
        insecureRegistries: config.insecureRegistries,
        hosts: config.registryHosts,
        timeoutMs: DEFAULT_REGISTRY_TIMEOUT_MS,
        attempts: DEFAULT_REGISTRY_ATTEMPTS,
        backoffMs: DEFAULT_REGISTRY_BACKOFF_MS,
      },
      event,
    };
    const vault = new CredentialVault();
    const jobs = new ImageJobs(
      {
        redisUrl: config.redis,
        concurrency: { pull: config.maxConcurrentDownloads, push: config.maxConcurrentUploads },
        lockDurationMs: DEFAULT_JOB_LOCK_MS,
        progressTtlSeconds: DEFAULT_PROGRESS_TTL_SECONDS,
      },
      jobProcessor(registryDeps, vault),
      (err) => logger.warn({ err }, 'image jobs'),
    );
    onClose(() => jobs.close());
    const registry = registryHandlers(registryDeps, jobs, vault);
    if (config.registryListen) {
      const served = new RegistryServer({ content, images, snaps: layerSnapshots, leases, onPush: (id, name) => event('push', id, name) });
      onClose(() => served.close());
      const address = config.registryListen;
      served.listen(address).then(
        (port) => logger.info({ address, port }, 'serving the OCI Distribution API'),
        (err: unknown) => logger.error({ err, address }, 'could not serve the OCI Distribution API'),
      );
    }
    server.add<imagesV1.ImagesServer>('berth.images.v1', imagesV1.ImagesService, {
      ...imagesService(images, content, unpack, event, layerSnapshots, config.maxUploadExpandedBytes),
      ...registry,
      ...storeHandlers(images, content, leases, snapshotLister),
    });
    // Content is a second contract of the same package; it needs no Info of its own.
    server.server.addService(imagesV1.ContentService, contentService(content) as unknown as UntypedServiceImplementation);
  },
});
