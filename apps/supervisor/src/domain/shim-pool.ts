import { existsSync } from 'node:fs';
import { connectivityState } from '@grpc/grpc-js';
import { failedPrecondition, isUnavailable, messageOf } from '@berth/errors';
import { traced } from '@berth/logging';
import type { monitorV1, shimV1 } from '@berth/proto';
import { adopt, monitorClient, monitorPaths, spawnMonitor } from '../clients/monitor-client';
import { socketAnswers } from '@berth/grpc';
import { shimClient, spawnShim } from '../clients/shim-client';
import type { ContainerRecord, MonitorRef } from './model';
import { monitorInfo, monitorPathFor } from './monitor-record';

/** The conmon-based monitor: one process for the containers whose record names it. */
export interface MonitorDeps {
  path: () => string;
  execRoot: string;
}

/** One gRPC client per container shim, and starting a shim (or the conmon monitor) when none serves. */
export class ShimPool {
  private readonly clients = new Map<string, shimV1.ShimClient>();
  /** Containers whose running monitor this supervisor refused to adopt, and why. */
  private readonly refused = new Map<string, string>();
  private monitor: monitorV1.MonitorClient | undefined;
  /** The running monitor's version, asked once per monitor process: every container it serves has the same. */
  private monitorVersion: string | undefined;
  /** One spawn at a time: many containers may find the monitor gone at once. */
  private spawning: Promise<void> | undefined;

  constructor(
    private readonly shimPath: () => string,
    /** Told which monitor now serves a container, after this pool started one. */
    private readonly started: (rec: ContainerRecord, monitor: MonitorRef) => void = () => undefined,
    private readonly monitorDeps?: MonitorDeps,
  ) {}

  get(rec: ContainerRecord): shimV1.ShimClient {
    const why = this.refused.get(rec.id);
    if (why) throw failedPrecondition(`container ${rec.id} is not managed: ${why}`);
    let c = this.clients.get(rec.id);
    if (!c) {
      c = shimClient(rec.shimSocket);
      this.clients.set(rec.id, c);
    }
    return c;
  }

  /** Marks a container's monitor as one this supervisor must not talk to (a contract mismatch). */
  refuse(id: string, why: string): void {
    this.refused.set(id, why);
    this.drop(id);
  }

  refusal(id: string): string | undefined {
    return this.refused.get(id);
  }

  /** The container is gone: its client, and any refusal of its monitor, with it. */
  forget(id: string): void {
    this.drop(id);
    this.refused.delete(id);
  }

  drop(id: string): void {
    this.clients.get(id)?.close();
    this.clients.delete(id);
  }

  /**
   * This pool's client holds a live connection to the container's shim (a running container's
   * Wait keeps one): it serves, with no probe of its socket (a connect per lookup, on the path
   * of every attach, exec and logs). A shim that dies closes the connection with it.
   */
  private connected(rec: ContainerRecord): boolean {
    return this.clients.get(rec.id)?.getChannel().getConnectivityState(false) === connectivityState.READY;
  }

  /** Whether the container's shim serves now; never starts one. */
  async serves(rec: ContainerRecord): Promise<boolean> {
    return !this.refused.has(rec.id) && (this.connected(rec) || (await socketAnswers(rec.shimSocket)));
  }

  /** Makes sure the container's shim serves; starts one when none does (first use, or after a reboot). */
  async ensure(rec: ContainerRecord, o: { prepare?: boolean } = {}): Promise<void> {
    if (this.connected(rec) || (await socketAnswers(rec.shimSocket))) return;
    this.drop(rec.id);
    this.refused.delete(rec.id);
    if (rec.monitor?.name === 'conmon' && this.monitorDeps) {
      const path = await this.ensureMonitor(rec, o.prepare === true);
      // Connected now, not on the attach, start and Wait that follow a create (and while it holds,
      // the next ensure needs no probe of the socket).
      this.get(rec).getChannel().getConnectivityState(true);
      if (!this.monitorVersion) {
        const version = await traced('ensure: monitor Info', rec.id, monitorInfo(this.get(rec))).then(
          (info) => (this.monitorVersion = info.version || undefined) ?? 'unknown',
          (err: unknown) => `unknown (${messageOf(err)})`,
        );
        this.started(rec, { name: 'conmon', version, path });
        return;
      }
      this.started(rec, { name: 'conmon', version: this.monitorVersion, path });
      return;
    }
    const path = monitorPathFor(rec, this.shimPath);
    await spawnShim(path, rec.id, rec.bundle, rec.shimSocket);
    const info = await monitorInfo(this.get(rec)).catch((err: unknown) => ({ name: 'shim', version: `unknown (${messageOf(err)})` }));
    this.started(rec, { name: info.name || 'shim', version: info.version || 'unknown', path });
  }

  /** The monitor process serves the container's socket once Adopt returns; returns its artifact. */
  private async ensureMonitor(rec: ContainerRecord, prepare: boolean): Promise<string> {
    const deps = this.monitorDeps!;
    const { socket } = monitorPaths(deps.execRoot);
    const kept = rec.monitor?.path;
    const path = kept && existsSync(kept) ? kept : deps.path();
    if (!(await socketAnswers(socket))) {
      this.spawning ??= (async () => {
        this.monitor?.close();
        this.monitor = undefined;
        this.monitorVersion = undefined;
        if (!(await socketAnswers(socket))) await spawnMonitor(path, deps.execRoot);
      })().finally(() => (this.spawning = undefined));
      await this.spawning;
    }
    this.monitor ??= monitorClient(socket);
    // A monitor started again serves what it had already; Adopt is then a no-op.
    await traced('ensure: monitor.Adopt', rec.id, adopt(this.monitor, rec.id, rec.bundle, prepare));
    return path;
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
    this.monitor?.close();
  }
}
