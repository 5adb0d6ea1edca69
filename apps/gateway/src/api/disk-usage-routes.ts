import { unary } from '@berth/clients';
import type { Backends } from '../domain/backends';
import { volumeJson } from './volume-routes';

/** Adds Docker's SizeRw / SizeRootFs to container summaries (`docker ps -s`, `system df`). */
export async function withSizes(b: Backends, rows: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const snaps = b.peers.snapshots;
  const images = new Map((await b.listImages()).map((i) => [i.id, Number(i.size)]));
  return Promise.all(
    rows.map(async (row) => {
      const usage = await unary('snapshotter', snaps.usage.bind(snaps), { key: String(row.Id) }).catch(() => ({ size: 0 }));
      const size = Number(usage.size);
      return { ...row, SizeRw: size, SizeRootFs: size + (images.get(String(row.ImageID)) ?? 0) };
    }),
  );
}

/** Volumes with their UsageData, for `system df`. */
export async function volumesWithUsage(b: Backends): Promise<Record<string, unknown>[]> {
  const vols = b.peers.volumes;
  const out = await unary('snapshotter', vols.listVolumes.bind(vols), { filtersJson: '', withSize: true });
  return out.volumes.map((v) => volumeJson(v, true));
}
