import { type ContractImpl, unaryHandler } from '@berth/grpc';
import type { volumesV1 } from '@berth/proto';
import type { VolumeView, Volumes } from '../domain/volumes';

function volume(v: VolumeView): volumesV1.Volume {
  return {
    name: v.name,
    driver: v.driver,
    mountpoint: v.mountpoint,
    createdAt: v.createdAt,
    labels: v.labels,
    options: v.options,
    scope: 'local',
    anonymous: v.anonymous,
    containers: v.containers,
    size: v.size,
  };
}

export function volumesService(vols: Volumes): ContractImpl<volumesV1.VolumesServer> {
  return {
    createVolume: unaryHandler((r: volumesV1.CreateVolumeRequest) => volume(vols.create(r.name, r.driver, r.labels, r.driverOpts, r.anonymous))),
    getVolume: unaryHandler((r: volumesV1.GetVolumeRequest) => volume(vols.get(r.name, r.withSize))),
    listVolumes: unaryHandler((r: volumesV1.ListVolumesRequest) => ({ volumes: vols.list(r.filtersJson, r.withSize).map(volume) })),
    removeVolume: unaryHandler(async (r: volumesV1.RemoveVolumeRequest) => {
      await vols.remove(r.name, r.force);
      return {};
    }),
    pruneVolumes: unaryHandler((r: volumesV1.PruneVolumesRequest) => vols.prune(r.filtersJson)),
    acquireVolume: unaryHandler(async (r: volumesV1.AcquireVolumeRequest) => volume(await vols.acquire(r.name, r.containerId, r.copyFrom, r.copyPath))),
    releaseContainer: unaryHandler(async (r: volumesV1.ReleaseContainerRequest) => ({ removed: await vols.releaseContainer(r.containerId, r.removeAnonymous) })),
  };
}
