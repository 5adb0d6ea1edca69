export * from './fs-calls';
export * from './pty';
export * from './resolve-in-root';
export * from './scoped-root';
