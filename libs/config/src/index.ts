export * from './config';
export * from './flags';
export * from './addresses';
export * from './api-tls';
export * from './userns-remap';
