/** The container the shim kit needs its shim to serve: created, not started, from the busybox fixture. */
export const SHIM_KIT_COMMAND = ['sh', '-c', 'echo kit-out; echo kit-err >&2; exec sleep 100000'];
