export * from './stream-reader';
