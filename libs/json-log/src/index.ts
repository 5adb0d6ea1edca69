export * from './format';
export * from './splitter';
export * from './files';
export * from './writer';
export * from './reader';
export * from './row-scan';
export * from './packed';
export * from './frames';
