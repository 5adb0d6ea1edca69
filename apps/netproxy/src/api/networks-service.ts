import { type ContractImpl, unaryHandler } from '@berth/grpc';
import type { netproxyV1 } from '@berth/proto';
import type { Networks } from '../domain/networks';

export function networksService(networks: Networks): ContractImpl<netproxyV1.NetworksServer> {
  return {
    listNetworks: unaryHandler(() => ({ networks: networks.list() })),
    getNetwork: unaryHandler((req: netproxyV1.GetNetworkRequest) => networks.get(req.reference)),
  };
}
