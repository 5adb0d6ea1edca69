import { unaryHandler } from '@berth/grpc';
import type { supervisorV1 } from '@berth/proto';
import type { ContainerRecord, Containers } from '../domain/containers';

function toProto(c: ContainerRecord): supervisorV1.Container {
  return { ...c, configJson: Buffer.from(JSON.stringify(c.config ?? {})) };
}

export function containersService(containers: Containers): Omit<supervisorV1.ContainersServer, 'info'> {
  return {
    listContainers: unaryHandler((req: supervisorV1.ListContainersRequest) => ({
      containers: containers.list(req.all).map(toProto),
    })),
    getContainer: unaryHandler((req: supervisorV1.GetContainerRequest) => toProto(containers.get(req.reference))),
  };
}
