export { fitMountData, type MountSpec } from './mount-data';
export { resolveInRoot } from './resolve';
