export * from './atomic-file';
export * from './record-store';
