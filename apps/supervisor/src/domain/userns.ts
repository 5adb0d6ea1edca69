import { chownSync, chmodSync } from 'node:fs';
import { type BerthConfig, resolveUsernsRemap, type UsernsRemap } from '@berth/config';
import { invalidArgument } from '@berth/errors';
import type { HostConfig } from './model';

let cached: { spec: string; remap: UsernsRemap | undefined } | undefined;

/**
 * The daemon's `--userns-remap`, resolved once. The launcher has already created `dockremap` and
 * refused ranges that do not exist, so this only reads.
 */
export function daemonRemap(config: BerthConfig): UsernsRemap | undefined {
  if (cached?.spec !== config.usernsRemap) cached = { spec: config.usernsRemap, remap: resolveUsernsRemap(config.usernsRemap, undefined, false) };
  return cached.remap;
}

/** The remap that applies to this container: none with `--userns=host`. */
export function containerRemap(config: BerthConfig, hc: HostConfig): UsernsRemap | undefined {
  return hc.UsernsMode === 'host' ? undefined : daemonRemap(config);
}

/** dockerd's refusals of host namespaces in a remapped container (each needs `--userns=host`). */
export function validateUserns(config: BerthConfig, hc: HostConfig): void {
  if (!containerRemap(config, hc)) return;
  if (hc.Privileged) {
    throw invalidArgument('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
  }
  if (hc.NetworkMode === 'host') throw invalidArgument("cannot share the host's network namespace when user namespaces are enabled");
  if (hc.PidMode === 'host') throw invalidArgument('cannot share the host PID namespace when user namespaces are enabled');
}

/** The OCI spec's id mappings for a remapped container. */
export function idMappingsFor(remap: UsernsRemap | undefined): { uids: UsernsRemap['uids']; gids: UsernsRemap['gids'] } | undefined {
  return remap ? { uids: remap.uids, gids: remap.gids } : undefined;
}

/**
 * The container's own files (hosts, resolv.conf, hostname and their directory) belong to its
 * remapped root, as dockerd makes them: runc bind-mounts them as that root.
 */
export function giveToRemappedRoot(remap: UsernsRemap | undefined, dir: string, files: string[]): void {
  if (!remap) return;
  chmodSync(dir, 0o711);
  chownSync(dir, remap.rootUid, remap.rootGid);
  for (const f of files) {
    try {
      chownSync(f, remap.rootUid, remap.rootGid);
    } catch {
      // a joined container's files are its host's
    }
  }
}
