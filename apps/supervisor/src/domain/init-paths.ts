/**
 * Files the engine bind-mounts into every container. Docker keeps them in an init layer so
 * they never show in a diff or a commit; here runc creates them in the container's own
 * layer, so diffs and commits leave them out by name.
 */
export const INIT_EXCLUDES = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/.dockerenv'];
