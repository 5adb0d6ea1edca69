export { type Compression, COMPRESSION_MAGIC_BYTES, detectCompression } from './detect';
export { type DecompressOptions, EXPANSION_LIMIT_MESSAGE, decompress } from './decompress';
export { DEFAULT_DISK_RESERVE_RATIO, expandedLimitBytes } from './limit';
