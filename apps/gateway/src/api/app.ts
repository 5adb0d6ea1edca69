import express, { type Express } from 'express';
import type { BerthConfig } from '@berth/config';
import type { Backends } from '../domain/backends';
import { errorHandler, notFoundHandler } from './errors';
import { exactJson } from './json';
import { containerRoutes } from './container-routes';
import { resourceRoutes } from './resource-routes';
import { imageRoutes } from './image-routes';
import { networkRoutes } from './network-routes';
import { registryRoutes } from './registry-routes';
import { imageStoreRoutes } from './image-store-routes';
import { volumeRoutes } from './volume-routes';
import { archiveRoutes } from './archive-routes';
import { buildRoutes } from './build-routes';
import { eventRoutes } from './event-routes';
import type { EventLog } from '@berth/events';
import { systemRoutes } from './system-routes';
import { unsupportedRoutes } from './unsupported-routes';
import { versionMiddleware } from './version-middleware';
import { requestContext } from './request-context';
import { apiValidation } from './validation';

/** The Engine API as an express app; listening is the caller's business. */
export function createApp(config: BerthConfig, version: string, backends: Backends, events: EventLog): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'extended');
  app.use(requestContext);
  app.use(backends.shimLookups.clearOnWrites);
  app.use(exactJson);
  app.use(versionMiddleware(version));
  app.use(apiValidation);
  app.use(systemRoutes(config, version, backends));
  app.use(containerRoutes(backends));
  app.use(resourceRoutes(backends));
  app.use(registryRoutes(backends));
  app.use(imageStoreRoutes(backends));
  app.use(imageRoutes(backends));
  app.use(networkRoutes(backends));
  app.use(volumeRoutes(backends));
  app.use(archiveRoutes(backends));
  app.use(buildRoutes(backends));
  app.use(eventRoutes(events));
  app.use(unsupportedRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
