export * from './serve-logs';
export * from './log-entry-wire';
