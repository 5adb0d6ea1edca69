export * from './registry';
export * from './merge';
