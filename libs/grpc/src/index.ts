export * from './status-mapping';
export * from './server';
export * from './client';
export * from './health';
export * from './request-messages';
export * from './shared-channels';
export * from './socket-probe';
