import { type ContractImpl, unaryHandler } from '@berth/grpc';
import type { monitorV1 } from '@berth/proto';
import type { Adopted } from '../domain/adopted';

export function monitorService(adopted: Adopted): ContractImpl<monitorV1.MonitorServer> {
  return {
    adopt: unaryHandler(async (r: monitorV1.AdoptRequest) => {
      await adopted.adopt(r.id, r.bundle, r.prepare);
      return {};
    }),
    release: unaryHandler(async (r: monitorV1.ReleaseRequest) => {
      await adopted.release(r.id);
      return {};
    }),
    list: unaryHandler(() => ({ ids: adopted.ids() })),
  };
}
