export * from './types';
export { TarWriter, packTar, type TarSink } from './writer';
export { readTar } from './reader';
export { TAR_BLOCK_BYTES, normalizeHeader, encodeHeader } from './header';
