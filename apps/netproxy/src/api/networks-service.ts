import { type ContractImpl, unaryHandler } from '@berth/grpc';
import type { netproxyV1 } from '@berth/proto';
import type { Endpoints } from '../domain/endpoints';
import type { Networks } from '../domain/networks';

export function networksService(networks: Networks, endpoints: Endpoints): ContractImpl<netproxyV1.NetworksServer> {
  return {
    listNetworks: unaryHandler(() => ({ networks: networks.list() })),
    getNetwork: unaryHandler((req: netproxyV1.GetNetworkRequest) => networks.get(req.reference)),
    attach: unaryHandler((req: netproxyV1.AttachRequest) =>
      endpoints.attach({
        containerId: req.containerId,
        network: req.network,
        ipv4Address: req.ipv4Address,
        portBindings: req.portBindings,
        aliases: req.aliases,
      }),
    ),
    release: unaryHandler(async (req: netproxyV1.ReleaseRequest) => {
      await endpoints.release(req.containerId);
      return {};
    }),
    retain: unaryHandler(async (req: netproxyV1.RetainRequest) => ({ released: await endpoints.retain(new Set(req.containerIds)) })),
  };
}
