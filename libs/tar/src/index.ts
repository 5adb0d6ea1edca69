export * from './types';
export { TarWriter, packTar, type TarSink } from './writer';
export { readTar } from './reader';
export { TAR_BLOCK_BYTES, normalizeHeader, encodeHeader } from './header';
export { UNTAR_ERROR_PREFIX, asUntarError } from './untar-errors';
