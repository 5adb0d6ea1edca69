/**
 * The Node/V8 flags every service runs with (deploy/systemd's units carry the same). Measured with
 * tools/bench/memory-bench.ts (docs/decisions.md): a 1 MiB semi-space instead of V8's 16 MiB keeps
 * a service's young generation from holding up to 32 MiB of garbage between scavenges, and
 * without --enable-source-maps a service does not keep its bundle's parsed source map in its heap
 * (up to 40 MiB in the gateway and images). NODE_OPTIONS=--enable-source-maps brings mapped stack
 * traces back when debugging.
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1'];

/** BERTH_NODE_FLAGS (space-separated) replaces them: a knob for the memory bench to weigh other sets. */
export function serviceNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.BERTH_NODE_FLAGS;
  return override === undefined ? SERVICE_NODE_FLAGS : override.split(/\s+/).filter(Boolean);
}

/**
 * glibc malloc settings every service runs with (the systemd units carry the same; a monitor the
 * supervisor starts inherits them). By default glibc raises its mmap threshold to the size of
 * the largest block freed (up to 32 MiB) and its trim threshold to twice that, so after V8's
 * parse of a bundle or a burst of large buffers (an image load) a service kept 4-12 MiB of freed
 * memory at the top of its heap for good (measured: `[heap]` in /proc/<pid>/smaps). Fixed
 * thresholds keep blocks over 128 KiB in their own mappings, returned when freed, and give back
 * the heap's top above 128 KiB.
 */
export const SERVICE_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

/** The environment for a service: the launcher's own, with SERVICE_MALLOC_ENV where it sets none. */
export function serviceEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...SERVICE_MALLOC_ENV, ...env };
}
