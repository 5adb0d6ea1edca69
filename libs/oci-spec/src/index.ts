export * from './types';
export * from './defaults';
export * from './build';
export * from './seccomp-profile';
export * from './seccomp-docker';
