export * from './fs-calls';
export * from './pty';
