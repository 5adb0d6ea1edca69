export * from './registry';
export * from './merge';
export * from './memory-report';
