export * from './fs-calls';
export * from './pty';
export * from './idmap-mount';
export * from './seqpacket';
export * from './mount-calls';
export * from './file-lock';
