import { isUnavailable } from '@berth/errors';
import type { shimV1 } from '@berth/proto';
import { shimClient, socketAnswers, spawnShim } from '../clients/shim-client';
import type { ContainerRecord } from './model';

/** One gRPC client per container shim, and starting a shim when none serves. */
export class ShimPool {
  private readonly clients = new Map<string, shimV1.ShimClient>();

  constructor(private readonly shimPath: () => string) {}

  get(rec: ContainerRecord): shimV1.ShimClient {
    let c = this.clients.get(rec.id);
    if (!c) {
      c = shimClient(rec.shimSocket);
      this.clients.set(rec.id, c);
    }
    return c;
  }

  drop(id: string): void {
    this.clients.get(id)?.close();
    this.clients.delete(id);
  }

  /** Makes sure the container's shim serves; starts one when none does (first use, or after a reboot). */
  async ensure(rec: ContainerRecord): Promise<void> {
    if (await socketAnswers(rec.shimSocket)) return;
    this.drop(rec.id);
    await spawnShim(this.shimPath(), rec.id, rec.bundle, rec.shimSocket);
  }

  /**
   * Calls the container's shim, starting one if needed. A shim of a stopped container exits when
   * idle and may do so between the check and the call; then it is started again, once.
   */
  async with<T>(rec: ContainerRecord, call: (shim: shimV1.ShimClient) => Promise<T>): Promise<T> {
    await this.ensure(rec);
    try {
      return await call(this.get(rec));
    } catch (err) {
      if (!isUnavailable(err) || (await socketAnswers(rec.shimSocket))) throw err;
      await this.ensure(rec);
      return call(this.get(rec));
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
