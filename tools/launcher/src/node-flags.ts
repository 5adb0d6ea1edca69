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
