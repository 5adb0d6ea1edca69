// Generated contracts live under ./gen (never edited by hand; `npm run proto:gen` rewrites
// them). This file is the only door into them.
export * as health from './gen/grpc/health/v1/health';
export * as types from './gen/berth/types/v1/info';
export * as imagesV1 from './gen/berth/images/v1/images';
export * as snapshotterV1 from './gen/berth/snapshotter/v1/snapshots';
export * as volumesV1 from './gen/berth/snapshotter/v1/volumes';
export * as supervisorV1 from './gen/berth/supervisor/v1/containers';
export * as netproxyV1 from './gen/berth/netproxy/v1/networks';
export * as shimV1 from './gen/berth/shim/v1/shim';
export * as monitorV1 from './gen/berth/monitor/v1/monitor';
export * as gatewayV1 from './gen/berth/gateway/v1/gateway';
export * as metricsV1 from './gen/berth/metrics/v1/metrics';
export * as builderV1 from './gen/berth/builder/v1/builder';
