import { execFileSync } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fitMountData, isMounted, type MountSpec, mountSpecs } from '@berth/rootfs';
import { type IdRange, idmappedBind, makePrivate, MNT_DETACH, mountFs, umount, userNamespaceFd } from '@berth/sys';

/** The id mappings of a container in a user namespace (the daemon's --userns-remap), from its spec. */
function idMappings(bundle: string): { uids: IdRange[]; gids: IdRange[] } | undefined {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux?: { uidMappings?: IdRange[]; gidMappings?: IdRange[] } };
  const uids = spec.linux?.uidMappings;
  const gids = spec.linux?.gidMappings;
  return uids?.length && gids?.length ? { uids, gids } : undefined;
}

function hostIdOfRoot(m: IdRange[]): number {
  return m.find((r) => r.containerID === 0)?.hostID ?? 0;
}

/**
 * The layers, seen through idmapped mounts, so the remapped root owns what the image's root owns
 * without a chowned copy of every layer (dockerd's per-remap layer store). Overlay keeps its own
 * references to its layers, so the idmapped mounts are taken away once it is mounted; what the
 * container writes lands in the upper layer with its host ids, as under dockerd.
 */
async function mountRemapped(mounts: MountSpec[], target: string, bundle: string, ids: { uids: IdRange[]; gids: IdRange[] }): Promise<void> {
  const nsFd = await userNamespaceFd(ids.uids, ids.gids);
  const scratch = join(bundle, 'idmapped');
  const temps: string[] = [];
  try {
    const mapped = mounts.map((m) => {
      const at = (p: string) => {
        const t = join(scratch, String(temps.length));
        mkdirSync(t, { recursive: true });
        idmappedBind(p, t, nsFd);
        temps.push(t);
        return t;
      };
      if (m.type === 'bind') return { ...m, source: at(m.source) };
      return {
        ...m,
        options: m.options.map((o) => {
          if (o.startsWith('lowerdir=')) return `lowerdir=${o.slice('lowerdir='.length).split(':').map(at).join(':')}`;
          if (o.startsWith('upperdir=')) chownSync(o.slice('upperdir='.length), hostIdOfRoot(ids.uids), hostIdOfRoot(ids.gids));
          return o;
        }),
      };
    });
    mountSpecs(mapped, target);
  } finally {
    closeSync(nsFd);
    for (const t of temps.reverse()) execFileSync('umount', ['-l', t]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Mounts the snapshot at `<bundle>/rootfs` (idempotent: a mount left by a previous run is kept). */
export async function mountRootfs(bundle: string): Promise<string> {
  const target = join(bundle, 'rootfs');
  mkdirSync(target, { recursive: true });
  if (isMounted(target)) return target;
  const mounts = JSON.parse(readFileSync(join(bundle, 'rootfs-mounts.json'), 'utf8')) as MountSpec[];
  const ids = idMappings(bundle);
  if (ids) await mountRemapped(mounts, target, bundle, ids);
  else if (!mountInProcess(mounts, target)) mountSpecs(mounts, target);
  makePrivate(target);
  return target;
}

/** Options overlay takes as data; anything else (ro, nosuid, ...) is a mount flag, left to mount(8). */
const DATA_ONLY = (o: string) => o.includes('=') || o === 'userxattr' || o === 'volatile';

/**
 * The common rootfs, one overlay whose options fit a page as they are, by mount(2) here; false
 * (nothing done) for anything else, which mount(8) parses as it always did.
 */
function mountInProcess(mounts: MountSpec[], target: string): boolean {
  const [m] = mounts;
  if (mounts.length !== 1 || m!.type !== 'overlay' || !m!.options.every(DATA_ONLY)) return false;
  const { data, cwd } = fitMountData(m!.options);
  if (cwd) return false;
  mountFs('overlay', m!.source, target, data);
  return true;
}

export function unmountRootfs(bundle: string): void {
  const target = join(bundle, 'rootfs');
  for (let i = 0; i < 8 && isMounted(target); i++) {
    try {
      umount(target);
    } catch {
      umount(target, MNT_DETACH);
    }
  }
}
