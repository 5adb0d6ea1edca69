import type { ClientReadableStream } from '@grpc/grpc-js';
import { ShimLookups } from './shim-lookups';
import { Peers, unary } from '@berth/clients';
import { fromServiceError, SharedChannels } from '@berth/grpc';
import { type imagesV1, shimV1, type supervisorV1 } from '@berth/proto';
import { ShimWireClient } from '@berth/log-stream';
import type { ServiceError } from '@grpc/grpc-js';
import { histogram } from '@berth/metrics';

export interface Counts {
  running: number;
  paused: number;
  stopped: number;
  images: number;
}

// dockerd's histogram of container operations, by action.
const actions = histogram('engine_daemon_container_actions_seconds', 'The number of seconds it takes to process each container action', ['action']);
function timed<T>(action: string, p: Promise<T>): Promise<T> {
  const done = actions.time({ action });
  return p.finally(() => done());
}

// Finite on purpose: a deadline timer past 2^31 ms would fire at once.
const LONG = { deadlineMs: 24 * 3600_000 };

/** What the gateway asks of the services, in one place, so routes stay free of gRPC details. */
export class Backends {
  /** Channels to container monitors, kept between requests (a connect and handshake each cost more than a short log read). */
  private readonly shims = new SharedChannels();
  /** Monitors looked up during an inspect, for the logs call the CLI sends next (shim-lookups.ts). */
  readonly shimLookups = new ShimLookups((reference: string, prefetching: boolean) => this.shim(reference, prefetching));
  constructor(readonly peers: Peers) {}

  private get c() {
    return this.peers.containers;
  }

  async listContainers(all: boolean): Promise<supervisorV1.Container[]> {
    return (await unary('supervisor', this.c.listContainers.bind(this.c), { all })).containers;
  }

  getContainer(reference: string): Promise<supervisorV1.Container> {
    return unary('supervisor', this.c.getContainer.bind(this.c), { reference });
  }

  createContainer(name: string, body: Buffer): Promise<supervisorV1.CreateContainerResponse> {
    return timed('create', unary('supervisor', this.c.createContainer.bind(this.c), { name, bodyJson: body }, { deadlineMs: 120_000, idempotent: false, waitForReady: true }));
  }

  startContainer(reference: string): Promise<supervisorV1.StartContainerResponse> {
    return timed('start', unary('supervisor', this.c.startContainer.bind(this.c), { reference }, { deadlineMs: 120_000, idempotent: false, waitForReady: true }));
  }

  stopContainer(reference: string, timeoutSeconds: number, signal: string, restart = false): Promise<supervisorV1.StopContainerResponse> {
    const m = restart ? this.c.restartContainer : this.c.stopContainer;
    return timed(restart ? 'restart' : 'stop', unary('supervisor', m.bind(this.c), { reference, timeoutSeconds, signal }, LONG));
  }

  async killContainer(reference: string, signal: string): Promise<void> {
    await unary('supervisor', this.c.killContainer.bind(this.c), { reference, signal }, { idempotent: false, waitForReady: true });
  }

  async deleteContainer(reference: string, force: boolean, removeVolumes: boolean): Promise<void> {
    await timed('delete', unary('supervisor', this.c.deleteContainer.bind(this.c), { reference, force, removeVolumes }, { deadlineMs: 120_000 }));
  }

  async renameContainer(reference: string, newName: string): Promise<void> {
    await unary('supervisor', this.c.renameContainer.bind(this.c), { reference, newName }, { idempotent: false, waitForReady: true });
  }

  async pauseContainer(reference: string, pause: boolean): Promise<void> {
    const m = pause ? this.c.pauseContainer : this.c.unpauseContainer;
    await unary('supervisor', m.bind(this.c), { reference });
  }

  topContainer(reference: string, psArgs: string): Promise<supervisorV1.TopContainerResponse> {
    return unary('supervisor', this.c.topContainer.bind(this.c), { reference, psArgs });
  }

  updateContainer(reference: string, body: Buffer): Promise<supervisorV1.UpdateContainerResponse> {
    return unary('supervisor', this.c.updateContainer.bind(this.c), { reference, bodyJson: body }, { idempotent: false });
  }

  containerStats(reference: string): Promise<supervisorV1.ContainerStatsResponse> {
    return unary('supervisor', this.c.containerStats.bind(this.c), { reference });
  }

  pruneContainers(filtersJson: string): Promise<supervisorV1.PruneContainersResponse> {
    return unary('supervisor', this.c.pruneContainers.bind(this.c), { filtersJson }, LONG);
  }

  /**
   * Waits on a container; `onRegistered` fires once the supervisor has the waiter in place,
   * which is when the HTTP headers may go out (the CLI starts the container right after).
   */
  waitContainer(reference: string, condition: string, onRegistered: () => void, signal: AbortSignal): Promise<supervisorV1.WaitContainerResponse> {
    return new Promise((resolve, reject) => {
      const call: ClientReadableStream<supervisorV1.WaitContainerResponse> = this.c.waitContainer({ reference, condition });
      signal.addEventListener('abort', () => call.cancel(), { once: true });
      let last: supervisorV1.WaitContainerResponse | undefined;
      call.on('data', (m: supervisorV1.WaitContainerResponse) => {
        if (m.registered) onRegistered();
        else last = m;
      });
      call.on('error', (err: ServiceError) => reject(fromServiceError(err, 'supervisor')));
      call.on('end', () => (last ? resolve(last) : reject(new Error('wait ended without a result'))));
    });
  }

  /**
   * A client for the container's shim, for the streams the gateway serves straight from it.
   * `servingOnly` (a lookup ahead of a call that may not come) never starts a shim, and has the
   * channel connect now, so the call that follows finds it ready (one idle for a minute closed).
   */
  async shim(reference: string, servingOnly = false): Promise<{ client: shimV1.ShimClient; tty: boolean; openStdin: boolean; id: string }> {
    const a = await unary('supervisor', this.c.shimAddress.bind(this.c), { reference, servingOnly: servingOnly || undefined });
    const client = this.shims.client(ShimWireClient, a.address);
    if (servingOnly) client.getChannel().getConnectivityState(true);
    return { client, tty: a.tty, openStdin: a.openStdin, id: reference };
  }

  async createExec(reference: string, body: Buffer): Promise<string> {
    return (await unary('supervisor', this.c.createExec.bind(this.c), { reference, bodyJson: body }, { idempotent: false, waitForReady: true })).id;
  }

  startExec(id: string): Promise<supervisorV1.StartExecResponse> {
    return unary('supervisor', this.c.startExec.bind(this.c), { id }, { idempotent: false });
  }

  async inspectExec(id: string): Promise<Record<string, unknown>> {
    const r = await unary('supervisor', this.c.inspectExec.bind(this.c), { id });
    return JSON.parse(Buffer.from(r.inspectJson).toString('utf8')) as Record<string, unknown>;
  }

  async listImages(): Promise<imagesV1.Image[]> {
    const c = this.peers.images;
    return (await unary('images', c.listImages.bind(c), {})).images;
  }

  async counts(): Promise<Counts> {
    const [containers, images] = await Promise.all([this.listContainers(true), this.listImages()]);
    const by = (s: string) => containers.filter((c) => c.status === s).length;
    return {
      running: by('running') + by('restarting'),
      paused: by('paused'),
      stopped: containers.length - by('running') - by('restarting') - by('paused'),
      images: images.length,
    };
  }

  close(): void {
    this.peers.close();
    this.shims.close();
  }
}
