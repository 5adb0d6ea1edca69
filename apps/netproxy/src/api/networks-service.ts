import { type ContractImpl, unaryHandler } from '@berth/grpc';
import type { netproxyV1 } from '@berth/proto';
import type { Endpoints } from '../domain/endpoints';
import type { NetworkAdmin } from '../domain/network-admin';
import type { Networks } from '../domain/networks';

export function networksService(networks: Networks, endpoints: Endpoints, admin: NetworkAdmin): ContractImpl<netproxyV1.NetworksServer> {
  return {
    listNetworks: unaryHandler(() => ({ networks: networks.list().map((n) => admin.view(n)) })),
    getNetwork: unaryHandler((req: netproxyV1.GetNetworkRequest) => admin.view(networks.find(req.reference))),
    attach: unaryHandler((req: netproxyV1.AttachRequest) =>
      endpoints.attach({
        containerId: req.containerId,
        containerName: req.containerName,
        network: req.network,
        ipv4Address: req.ipv4Address,
        portBindings: req.portBindings,
        aliases: req.aliases,
        dnsServers: req.dnsServers,
        macAddress: req.macAddress,
      }),
    ),
    release: unaryHandler(async (req: netproxyV1.ReleaseRequest) => {
      await endpoints.release(req.containerId);
      return {};
    }),
    retain: unaryHandler(async (req: netproxyV1.RetainRequest) => ({ released: await endpoints.retain(new Set(req.containerIds)) })),
    createNetwork: unaryHandler(async (req: netproxyV1.CreateNetworkRequest) =>
      admin.view(
        await admin.create({
          name: req.name,
          driver: req.driver,
          internal: req.internal,
          enableIpv6: req.enableIpv6,
          options: req.options,
          labels: req.labels,
          ipam: req.ipam,
        }),
      ),
    ),
    removeNetwork: unaryHandler(async (req: netproxyV1.RemoveNetworkRequest) => {
      await admin.remove(req.reference);
      return {};
    }),
    pruneNetworks: unaryHandler(async (req: netproxyV1.PruneNetworksRequest) => ({
      deleted: await admin.prune(req.labels, req.notLabels, Number(req.untilUnixMs)),
    })),
    publish: unaryHandler(async (req: netproxyV1.PublishRequest) => ({ endpoints: await endpoints.publish(req.containerId) })),
    unpublish: unaryHandler(async (req: netproxyV1.PublishRequest) => ({ endpoints: await endpoints.unpublish(req.containerId) })),
    rename: unaryHandler((req: netproxyV1.RenameRequest) => {
      endpoints.rename(req.containerId, req.name);
      return {};
    }),
    detach: unaryHandler(async (req: netproxyV1.DetachRequest) => {
      await endpoints.detach(req.containerId, req.network);
      return {};
    }),
  };
}
