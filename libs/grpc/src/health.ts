import type { ServerWritableStream } from '@grpc/grpc-js';
import { health } from '@berth/proto';

const { HealthCheckResponse_ServingStatus: Status } = health;
type ServingStatus = health.HealthCheckResponse_ServingStatus;

/** The grpc.health.v1 service: "" is the whole server, other names are its contracts. */
export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; call: ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse> }>();

  set(service: string, serving: boolean): void {
    const s = serving ? Status.SERVING : Status.NOT_SERVING;
    this.statuses.set(service, s);
    for (const w of this.watchers) if (w.service === service) w.call.write({ status: s });
  }

  implementation(): health.HealthServer {
    return {
      check: (call, callback) => {
        const s = this.statuses.get(call.request.service);
        if (s === undefined) {
          callback({ code: 5, details: `unknown service ${call.request.service}` });
          return;
        }
        callback(null, { status: s });
      },
      watch: (call) => {
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        call.write({ status: this.statuses.get(w.service) ?? Status.SERVICE_UNKNOWN });
        call.on('cancelled', () => this.watchers.delete(w));
        call.on('close', () => this.watchers.delete(w));
      },
    };
  }

  shutdown(): void {
    for (const s of this.statuses.keys()) this.set(s, false);
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }
}
