export * from './fs-calls';
