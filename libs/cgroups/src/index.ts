export * from './host';
export * from './paths';
export * from './stats';
export * from './live-update';
export * from './oom-log';
