import { runCommand } from './run-command';

/** Destinations of the host's IPv4 routes (not the default route): subnets a new network must not overlap. */
export async function hostRouteDestinations(): Promise<string[]> {
  const r = await runCommand('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    let dst = line.trim().split(/\s+/)[0] ?? '';
    if (['broadcast', 'local', 'unicast', 'multicast'].includes(dst)) dst = line.trim().split(/\s+/)[1] ?? '';
    if (!dst || dst === 'default' || !/^\d/.test(dst)) continue;
    out.push(dst.includes('/') ? dst : `${dst}/32`);
  }
  return out;
}
