export * from './serve-logs';
