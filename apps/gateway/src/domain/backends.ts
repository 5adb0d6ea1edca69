import { Peers, unary } from '@berth/clients';
import type { imagesV1, supervisorV1 } from '@berth/proto';

export interface Counts {
  running: number;
  paused: number;
  stopped: number;
  images: number;
}

/** What the gateway asks of the services, in one place, so routes stay free of gRPC details. */
export class Backends {
  constructor(private readonly peers: Peers) {}

  async listContainers(all: boolean): Promise<supervisorV1.Container[]> {
    const c = this.peers.containers;
    return (await unary('supervisor', c.listContainers.bind(c), { all })).containers;
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
  }
}
