export { fitMountData, type MountSpec } from './mount-data';
export { resolveInRoot } from './resolve';
export { cleanMemberName, fdPath, type Resolved, resolvedPath, ScopedRoot } from './scoped-root';
export { mountSpecs } from './mount-specs';
export { isMounted } from './mount-table';
