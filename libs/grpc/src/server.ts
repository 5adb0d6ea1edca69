import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { health, metricsV1, type types } from '@berth/proto';
import { log } from '@berth/logging';
import { counter, histogram, metricsJson } from '@berth/metrics';
import { HealthState } from './health';
import { toServiceError } from './status-mapping';

export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * A contract's handlers minus `info` (filled in by ServiceServer). ts-proto's server types carry
 * an index signature, which would make `Omit` drop every named method; this keeps them checked.
 */
export type ContractImpl<S> = { [K in keyof S as string extends K ? never : K extends 'info' ? never : K]: S[K] };

export interface ServiceIdentity {
  name: string;
  version: string;
  /** Extra facts for `docker info`, computed when asked. */
  details?: () => Record<string, string>;
}

const handled = counter('berth_grpc_server_handled_total', 'gRPC calls this service answered, by method and status code.', ['method', 'code']);
const handling = histogram('berth_grpc_server_handling_seconds', 'Time this service took to answer a unary gRPC call, by method.', ['method']);

/** Adapts an async handler to grpc-js, translating thrown errors to gRPC statuses; counts and times each call. */
export function unaryHandler<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const method = call.getPath();
    const done = handling.time({ method });
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => {
          done();
          handled.inc({ method, code: 'OK' });
          callback(null, res);
        },
        (err: unknown) => {
          const se = toServiceError(err);
          if (se.code === 13) log().error({ err }, 'internal error in handler');
          done();
          handled.inc({ method, code: String(se.code ?? 2) });
          callback(se);
        },
      );
  };
}

/**
 * A gRPC server for one service: its contracts, grpc.health.v1 and Info, listening on a unix
 * socket. `close()` drains for a grace period, then cuts what is left.
 */
export class ServiceServer {
  readonly server = new Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES });
  readonly health = new HealthState();
  private readonly contracts: string[] = [];
  private readonly startedAt = Date.now();
  private closed = false;

  constructor(private readonly identity: ServiceIdentity) {
    this.server.addService(health.HealthService, this.health.implementation() as unknown as UntypedServiceImplementation);
    const metrics: metricsV1.MetricsServer = { get: unaryHandler(async () => ({ metricsJson: await metricsJson() })) };
    this.server.addService(metricsV1.MetricsService, metrics as unknown as UntypedServiceImplementation);
  }

  /** Registers a contract; its Info method is filled in here so every contract answers it the same way. */
  add<S extends UntypedServiceImplementation>(contract: string, definition: ServiceDefinition, impl: ContractImpl<S>): this {
    const full = { ...impl, info: unaryHandler<types.InfoRequest, types.InfoResponse>(() => this.info()) };
    this.server.addService(definition, full as UntypedServiceImplementation);
    this.contracts.push(contract);
    return this;
  }

  info(): types.InfoResponse {
    return {
      name: this.identity.name,
      version: this.identity.version,
      contracts: [...this.contracts],
      pid: process.pid,
      startedAtUnixMs: this.startedAt,
      details: this.identity.details?.() ?? {},
    };
  }

  /** Binds to `unix:///path`. A socket file left by a killed predecessor is replaced. */
  async listen(address: string): Promise<void> {
    if (address.startsWith('unix://')) {
      const path = address.slice('unix://'.length);
      mkdirSync(dirname(path), { recursive: true });
      try {
        if (statSync(path).isSocket()) rmSync(path);
      } catch {
        // absent: nothing to replace
      }
    }
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.health.set('', true);
    for (const c of this.contracts) this.health.set(c, true);
  }

  async close(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.health.shutdown();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
