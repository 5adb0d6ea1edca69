import type { Client } from '@grpc/grpc-js';
import { type BerthConfig, type ServiceName } from '@berth/config';
import { builderV1, gatewayV1, health, imagesV1, netproxyV1, snapshotterV1, supervisorV1, type types, volumesV1 } from '@berth/proto';
import { type CallOpts, channelConnected, type ClientCtor, connect, unary } from '@berth/grpc';

/** The client class that speaks each service's main contract (all of them answer Info). */
const CONTRACT_CLIENTS = {
  gateway: gatewayV1.GatewayClient,
  images: imagesV1.ImagesClient,
  snapshotter: snapshotterV1.SnapshotsClient,
  supervisor: supervisorV1.ContainersClient,
  netproxy: netproxyV1.NetworksClient,
  builder: builderV1.BuilderClient,
} as const;

type InfoClient = Client & {
  info: (r: types.InfoRequest, m: never, o: never, cb: (e: never, r: types.InfoResponse) => void) => never;
};

/** Asks any service who it is. */
export async function serviceInfo(service: ServiceName, address: string, opts?: CallOpts): Promise<types.InfoResponse> {
  const c = connect(CONTRACT_CLIENTS[service] as unknown as ClientCtor<InfoClient>, address);
  try {
    return await unary(service, c.info.bind(c) as never, {}, opts);
  } finally {
    c.close();
  }
}

/** grpc.health.v1 Check of the whole server ("") at an address. */
export async function serviceHealthy(service: string, address: string, opts?: CallOpts): Promise<boolean> {
  const c = connect(health.HealthClient, address);
  try {
    const res = await unary(service, c.check.bind(c), { service: '' }, opts);
    return res.status === health.HealthCheckResponse_ServingStatus.SERVING;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

/**
 * Long-lived clients to the peers a service talks to, created on first use. Every peer is
 * found by its configured address, so a swapped implementation needs no code change.
 */
export class Peers {
  private readonly clients = new Map<string, Client>();
  private readonly serviceOf = new Map<string, ServiceName>();
  constructor(private readonly config: BerthConfig) {}

  private get<C extends Client>(name: ServiceName, key: string, Ctor: new (...a: never[]) => C): C {
    let c = this.clients.get(key) as C | undefined;
    if (!c) {
      c = connect(Ctor as never, this.config.services[name]) as C;
      this.clients.set(key, c);
      this.serviceOf.set(key, name);
    }
    return c;
  }

  /**
   * Whether `name` can be asked something in passing (Info, metrics): always, except a service
   * the launcher starts on demand that this process has not reached (a connection would start it).
   */
  awake(name: ServiceName): boolean {
    if (!this.config.onDemandServices.includes(name)) return true;
    return [...this.clients].some(([key, c]) => this.serviceOf.get(key) === name && channelConnected(c));
  }

  get images(): imagesV1.ImagesClient {
    return this.get('images', 'images', imagesV1.ImagesClient);
  }
  get content(): imagesV1.ContentClient {
    return this.get('images', 'content', imagesV1.ContentClient);
  }
  get snapshots(): snapshotterV1.SnapshotsClient {
    return this.get('snapshotter', 'snapshots', snapshotterV1.SnapshotsClient);
  }
  get volumes(): volumesV1.VolumesClient {
    return this.get('snapshotter', 'volumes', volumesV1.VolumesClient);
  }
  get containers(): supervisorV1.ContainersClient {
    return this.get('supervisor', 'containers', supervisorV1.ContainersClient);
  }
  get networks(): netproxyV1.NetworksClient {
    return this.get('netproxy', 'networks', netproxyV1.NetworksClient);
  }
  get builder(): builderV1.BuilderClient {
    return this.get('builder', 'builder', builderV1.BuilderClient);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export { unary } from '@berth/grpc';
