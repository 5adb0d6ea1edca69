import { type BerthConfig, checkRemapAccess, resolveUsernsRemap } from '@berth/config';

/**
 * dockerd's start-up part of `--userns-remap`: `default` gets its `dockremap` user and ranges
 * now, a user without subordinate ranges stops the start, and so do directories above the roots
 * that the remapped root cannot pass through.
 */
export function startUsernsRemap(config: BerthConfig, say: (line: string) => void): void {
  const remap = resolveUsernsRemap(config.usernsRemap);
  if (!remap) {
    if (config.usernsRemap) say('User namespaces: root cannot be remapped with itself; user namespaces are OFF');
    return;
  }
  say(`User namespaces: ID ranges will be mapped to subuid/subgid ranges of: ${remap.user}`);
  checkRemapAccess(remap, [config.dataRoot, config.execRoot]);
}
