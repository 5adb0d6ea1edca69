import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, messageOf } from '@berth/errors';
import { ServiceServer } from '@berth/grpc';
import type { Logger } from '@berth/logging';
import { shimV1 } from '@berth/proto';
import { shimServiceWire } from '@berth/log-stream';
import { readOptions, shimService } from '@berth/shim-core';
import { writeFileReplace } from '@berth/store';
import { ConmonContainer } from './conmon-container';

interface Served {
  container: ConmonContainer;
  server: ServiceServer;
}

/**
 * The containers this monitor serves, each on its own socket with its own gRPC server (the shim
 * contract carries no container id). What was adopted is recorded under `<state>/containers`,
 * so a monitor started again serves the same containers.
 */
export class Adopted {
  private readonly served = new Map<string, Served>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly stateDir: string,
    private readonly version: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(join(stateDir, 'containers'), { recursive: true, mode: 0o700 });
  }

  ids(): string[] {
    return [...this.served.keys()];
  }

  get size(): number {
    return this.served.size;
  }

  /** Every container adopted before this process started; one that cannot be served is logged and skipped. */
  async recoverAll(): Promise<void> {
    const dir = join(this.stateDir, 'containers');
    await Promise.all(
      readdirSync(dir).map(async (id) => {
        try {
          const { bundle } = JSON.parse(readFileSync(join(dir, id), 'utf8')) as { bundle: string };
          await this.adopt(id, bundle);
        } catch (err) {
          this.logger.warn({ id, err: messageOf(err) }, 'cannot serve an adopted container again; forgetting it');
          rmSync(join(dir, id), { force: true });
        }
      }),
    );
  }

  /** Serves the container (once); `prepare` begins its Prepare then, which the caller does not wait for. */
  async adopt(id: string, bundle: string, prepare = false): Promise<void> {
    if (!/^[a-f0-9]{64}$/.test(id)) throw invalidArgument('Adopt: id must be a 64-hex container id');
    if (!bundle.startsWith('/')) throw invalidArgument('Adopt: bundle must be an absolute path');
    if (!this.served.has(id)) {
      let p = this.pending.get(id);
      if (!p) {
        p = this.serve(id, bundle).finally(() => this.pending.delete(id));
        this.pending.set(id, p);
      }
      await p;
    }
    if (prepare) void this.served.get(id)?.container.prepare();
  }

  private async serve(id: string, bundle: string): Promise<void> {
    const o = readOptions(bundle);
    if (o.id !== id) throw invalidArgument(`Adopt: ${bundle} holds container ${o.id}, not ${id}`);
    const logger = this.logger.child({ container: id });
    const container = new ConmonContainer(o, bundle, logger);
    await container.recover();
    writeFileReplace(join(this.stateDir, 'containers', id), JSON.stringify({ bundle }));
    const server = new ServiceServer({ name: 'monitor', version: this.version, details: () => ({ bundle, monitor: 'conmon' }) });
    server.add<shimV1.ShimServer>('berth.shim.v1', shimServiceWire, shimService(container, () => void this.forget(id)));
    await server.listen(`unix://${o.socket}`);
    this.served.set(id, { container, server });
    logger.info({ socket: o.socket, status: container.status }, 'serving');
  }

  /** After Shutdown: the container is gone, and so is its record. */
  async forget(id: string): Promise<void> {
    const s = this.served.get(id);
    this.served.delete(id);
    rmSync(join(this.stateDir, 'containers', id), { force: true });
    s?.container.release();
    await s?.server.close(1_000);
  }

  /** Stops serving but keeps the record: a later Adopt (or monitor) serves it again. */
  async release(id: string): Promise<void> {
    const s = this.served.get(id);
    this.served.delete(id);
    s?.container.release();
    await s?.server.close(1_000);
  }
}
