import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BerthConfig } from '@berth/config';
import { conflict, invalidArgument, isNotFound, isUnavailable, messageOf } from '@berth/errors';
import { type Peers, unary } from '@berth/clients';
import { newId } from '@berth/ids';
import type { Logger } from '@berth/logging';
import { buildSpec } from '@berth/oci-spec';
import type { shimV1 } from '@berth/proto';
import { chainIds } from '@berth/reference';
import { writeFileAtomic } from '@berth/store';
import { shimClient, socketAnswers, spawnShim } from '../clients/shim-client';
import type { Containers } from './containers';
import type { ExecRecord } from './execs';
import { writeFilesFor } from './container-files';
import { linkEnv, linkHosts, resolveLinks } from './links';
import {
  type Attachment, attach as attachNetwork, attachExtraNetworks, endpointSettings, joinTarget, networkChoice, portBindings, release as releaseNetwork, retain as retainNetworks, setPublished, withRetry,
} from './network-attach';
import { releaseMounts, setupMounts } from './container-mounts';
import { ociMounts } from './mounts';
import { type ImageConfig, mergeConfig, parseCreateBody } from './create-config';
import { type ContainerRecord, type HostConfig, type State, ZERO_TIME } from './model';
import { generateName } from './names';
import { restartDelayMs, shouldRestart, validateRestartPolicy } from './restart-policy';
import { parseSignal } from './signals';
import { readRootfsFiles } from './rootfs-files';
import { resolveUser } from './user';

const execFileP = promisify(execFile);
// Long waits (a container runs for days) still need a finite deadline: timers past 2^31 ms fire at once.
const NO_DEADLINE = { deadlineMs: 24 * 3600_000 };
const DEFAULT_STOP_TIMEOUT_S = 10;
const TINI = '/usr/bin/tini-static';

export interface ExitResult {
  exitCode: number;
  error: string;
}

export interface LifecycleDeps {
  config: BerthConfig;
  dataDir: string;
  containers: Containers;
  peers: Peers;
  shimPath: () => string;
  logger: Logger;
  /** Publishes a Docker event (container actions); never throws. */
  event: (action: string, rec: ContainerRecord, extra?: Record<string, string>) => void;
}

const now = () => new Date().toISOString();

/** Docker's exit codes for a process that could not be started. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}

/**
 * The container lifecycle: create, start, stop, kill, restart, delete, wait, and what happens
 * when a process exits (restart policies, --rm). The shim holds the process; this keeps the
 * record and talks to the shim.
 */
export class Lifecycle {
  private readonly shims = new Map<string, shimV1.ShimClient>();
  private readonly exitWaiters = new Map<string, Set<(r: ExitResult) => void>>();
  private readonly removeWaiters = new Map<string, Set<(r: ExitResult) => void>>();
  private readonly watching = new Set<string>();
  private readonly restartDelays = new Map<string, number>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Containers between their network attach and their first record write. */
  private readonly creating = new Set<string>();
  private readonly removing = new Set<string>();

  constructor(private readonly d: LifecycleDeps) {}

  private bundleDir(id: string): string {
    return join(this.d.config.execRoot, 'bundles', id);
  }

  private filesDir(id: string): string {
    return join(this.d.dataDir, 'containers', id);
  }

  private shim(rec: ContainerRecord): shimV1.ShimClient {
    let c = this.shims.get(rec.id);
    if (!c) {
      c = shimClient(rec.shimSocket);
      this.shims.set(rec.id, c);
    }
    return c;
  }

  private dropShim(id: string): void {
    this.shims.get(id)?.close();
    this.shims.delete(id);
  }

  /** Publishes a container event for work done outside the lifecycle (e.g. commit). */
  event(action: string, rec: ContainerRecord, extra?: Record<string, string>): void {
    this.d.event(action, rec, extra);
  }

  /** Makes sure the container's shim serves; starts one when none does (first use, or after a reboot). */
  async ensureShim(rec: ContainerRecord): Promise<void> {
    if (await socketAnswers(rec.shimSocket)) return;
    this.dropShim(rec.id);
    await spawnShim(this.d.shimPath(), rec.id, rec.bundle, rec.shimSocket);
  }

  /**
   * Calls the container's shim, starting one if needed. A shim of a stopped container exits when
   * idle and may do so between the check and the call; then it is started again, once.
   */
  private async withShim<T>(rec: ContainerRecord, call: (shim: shimV1.ShimClient) => Promise<T>): Promise<T> {
    await this.ensureShim(rec);
    try {
      return await call(this.shim(rec));
    } catch (err) {
      if (!isUnavailable(err) || (await socketAnswers(rec.shimSocket))) throw err;
      await this.ensureShim(rec);
      return call(this.shim(rec));
    }
  }

  async create(nameIn: string, bodyJson: Uint8Array): Promise<{ id: string; warnings: string[] }> {
    const body = parseCreateBody(Buffer.from(bodyJson));
    const { containers, peers } = this.d;
    const name = nameIn ? containers.checkName(nameIn) : generateName((n) => containers.all().some((c) => c.name === n));
    const hostConfig: HostConfig = { ...(body.HostConfig ?? {}) };
    validateRestartPolicy(hostConfig.RestartPolicy, hostConfig.AutoRemove ?? false);
    const warnings: string[] = [];
    const mode = hostConfig.NetworkMode || 'default';
    const choice = networkChoice(mode);
    const joined = choice.kind === 'container' ? joinTarget(containers.get(choice.ref), hostConfig, body.Hostname ?? '') : undefined;
    const links = resolveLinks(containers, hostConfig.Links as string[] | undefined);
    if (choice.kind === 'host' && (Object.keys(hostConfig.PortBindings ?? {}).length || hostConfig.PublishAllPorts)) {
      warnings.push('Published ports are discarded when using host network mode');
    }
    hostConfig.NetworkMode = mode;
    const runtime = hostConfig.Runtime || this.d.config.defaultRuntime;
    const rt = this.d.config.runtimes[runtime];
    if (!rt) throw invalidArgument(`unknown or invalid runtime name: ${runtime}`);

    const images = peers.images;
    const image = await unary('images', images.getImage.bind(images), { reference: body.Image! });
    const imageDoc = JSON.parse(Buffer.from(image.configJson).toString('utf8') || '{}') as { config?: ImageConfig };
    const id = newId();
    const merged = mergeConfig(body, imageDoc.config ?? {}, id);
    const chain = chainIds(image.diffIds);
    const snaps = peers.snapshots;
    const { mounts } = await unary('snapshotter', snaps.prepare.bind(snaps), { key: id, parent: chain[chain.length - 1] ?? '', labels: {} });
    const bundle = this.bundleDir(id);
    const files = this.filesDir(id);
    let attached: Attachment | undefined;
    let extra: Attachment[] = [];
    this.creating.add(id);
    try {
      if (choice.kind === 'network') {
        const eps = endpointSettings(body.NetworkingConfig, choice.name);
        const ports = portBindings(merged.config, hostConfig);
        const dns = hostConfig.Dns?.length ? hostConfig.Dns : this.d.config.dns;
        attached = await attachNetwork(peers, { containerId: id, containerName: name, network: choice.name, ip: eps.ip, aliases: eps.aliases, ports, dns });
        extra = await attachExtraNetworks(peers, id, name, choice.name, body.NetworkingConfig, dns);
      }
      mkdirSync(bundle, { recursive: true, mode: 0o711 });
      mkdirSync(files, { recursive: true, mode: 0o710 });
      const mountPoints = await setupMounts(peers, containers, id, body, hostConfig, imageDoc.config?.Volumes);
      const rec: ContainerRecord = {
        id,
        name,
        created: now(),
        image: body.Image!,
        imageId: image.id,
        config: merged.config,
        hostConfig,
        networkingConfig: body.NetworkingConfig ?? null,
        state: {
          Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
          Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
        },
        restartCount: 0,
        manuallyStopped: false,
        path: merged.path,
        args: merged.args,
        rootfsKey: id,
        bundle,
        shimSocket: join(this.d.config.execRoot, 'shims', `${id.slice(0, 12)}.sock`),
        logPath: join(files, `${id}-json.log`),
        resolvConfPath: join(files, 'resolv.conf'),
        hostnamePath: join(files, 'hostname'),
        hostsPath: join(files, 'hosts'),
        driver: this.d.config.storageDriver,
        networks: attached ? [attached, ...extra] : undefined,
        joinedContainer: joined?.rec.id,
        mounts: mountPoints,
      };
      // A joined container shares its host's names along with its interfaces.
      if (joined) Object.assign(rec, { resolvConfPath: joined.rec.resolvConfPath, hostnamePath: joined.rec.hostnamePath, hostsPath: joined.rec.hostsPath });
      else writeFilesFor(rec, this.d.config, linkHosts(links));
      const etc = merged.config.User ? await readRootfsFiles(mounts, ['etc/passwd', 'etc/group']) : ['', ''];
      const user = resolveUser(merged.config.User, etc[0]!, etc[1]!);
      const spec = buildSpec({
        id,
        args: [merged.path, ...merged.args],
        env: [...linkEnv(links, name), ...merged.config.Env],
        cwd: merged.config.WorkingDir || '/',
        user,
        hostname: merged.config.Hostname,
        tty: merged.config.Tty,
        consoleSize: hostConfig.ConsoleSize && hostConfig.ConsoleSize[0] > 0 ? hostConfig.ConsoleSize : undefined,
        privileged: hostConfig.Privileged,
        capAdd: hostConfig.CapAdd ?? [],
        capDrop: hostConfig.CapDrop ?? [],
        readonlyRootfs: hostConfig.ReadonlyRootfs,
        network: attached ? { mode: 'path', path: attached.netnsPath } : (joined?.spec ?? { mode: choice.kind === 'host' ? 'host' : 'none' }),
        shmSizeBytes: hostConfig.ShmSize,
        memoryBytes: hostConfig.Memory,
        nanoCpus: hostConfig.NanoCpus,
        cpuShares: hostConfig.CpuShares,
        pidsLimit: hostConfig.PidsLimit ?? undefined,
        sysctls: hostConfig.Sysctls ?? undefined,
        seccomp: !(hostConfig.SecurityOpt ?? []).includes('seccomp=unconfined') && !(hostConfig.SecurityOpt ?? []).includes('seccomp:unconfined'),
        initBinary: hostConfig.Init ? TINI : undefined,
        files: { hosts: rec.hostsPath, resolvConf: rec.resolvConfPath, hostname: rec.hostnamePath },
        extraMounts: ociMounts(mountPoints),
      });
      const logOpts = { ...this.d.config.logOpts, ...(hostConfig.LogConfig?.Config ?? {}) };
      writeFileAtomic(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
      writeFileAtomic(join(bundle, 'rootfs-mounts.json'), JSON.stringify(mounts));
      writeFileAtomic(
        join(bundle, 'shim.json'),
        JSON.stringify({
          id,
          socket: rec.shimSocket,
          runtime: { path: rt.path, args: rt.runtimeArgs ?? [] },
          runtimeRoot: join(this.d.config.execRoot, 'runtime', runtime),
          logPath: rec.logPath,
          logMaxSize: parseSize(logOpts['max-size']),
          logMaxFile: Math.max(1, Number(logOpts['max-file'] ?? 1) || 1),
          tty: merged.config.Tty,
          openStdin: merged.config.OpenStdin,
          stdinOnce: merged.config.StdinOnce,
        }),
      );
      mkdirSync(join(this.d.config.execRoot, 'shims'), { recursive: true, mode: 0o700 });
      containers.save(rec);
      // The shim is wanted now so that an attach before start sees every byte; if it cannot
      // come up, start (or attach) will try again and report the reason.
      await this.ensureShim(rec).catch((err: unknown) => this.d.logger.warn({ id, err: messageOf(err) }, 'shim did not start at create'));
      this.d.event('create', rec);
      return { id, warnings };
    } catch (err) {
      if (!containers.byId(id)) {
        await releaseMounts(peers, id, true, this.d.logger).catch(() => undefined);
        await unary('snapshotter', snaps.remove.bind(snaps), { key: id }).catch(() => undefined);
        if (choice.kind === 'network') await releaseNetwork(peers, id).catch(() => undefined);
        rmSync(bundle, { recursive: true, force: true });
        rmSync(files, { recursive: true, force: true });
      }
      throw err;
    } finally {
      this.creating.delete(id);
    }
  }

  async start(ref: string): Promise<{ already: boolean }> {
    const rec = this.d.containers.get(ref);
    if (rec.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
    if (rec.state.Running) return { already: true };
    if (rec.state.Status === 'removing' || rec.state.Dead) throw conflict(`container ${rec.id} is marked for removal and cannot be started`);
    clearTimeout(this.restartTimers.get(rec.id));
    rec.manuallyStopped = false;
    await this.run(rec);
    return { already: false };
  }

  /** Runs the process once more; used by start and by restart policies. */
  private async run(rec: ContainerRecord): Promise<void> {
    writeFilesFor(rec, this.d.config, this.linkHostsOf(rec));
    await setPublished(this.d.peers, this.d.containers, rec.id, true);
    let pid: number;
    try {
      pid = (await this.withShim(rec, (shim) => unary('shim', shim.start.bind(shim), {}, { deadlineMs: 60_000, idempotent: false }))).pid;
    } catch (err) {
      const msg = messageOf(err);
      await this.unpublish(rec.id);
      Object.assign(rec.state, { Status: rec.state.StartedAt === ZERO_TIME ? 'created' : 'exited', Running: false, Restarting: false, Error: msg, ExitCode: startFailureCode(msg) });
      this.d.containers.save(rec);
      // As in Docker, --rm also covers a container that never started (the CLI waits for it).
      if (rec.hostConfig.AutoRemove) await this.remove(rec, true).catch((e: unknown) => this.d.logger.error({ id: rec.id, err: messageOf(e) }, 'auto-remove failed'));
      throw invalidArgument(`failed to create task for container: ${msg}: unknown`);
    }
    Object.assign(rec.state, { Status: 'running', Running: true, Restarting: false, Paused: false, Pid: pid, Error: '', ExitCode: 0, StartedAt: now() });
    this.d.containers.save(rec);
    this.d.event('start', rec);
    this.watchExit(rec.id);
  }

  /** Keeps one Wait open on the shim per running container, to learn of its exit. */
  private watchExit(id: string): void {
    if (this.watching.has(id)) return;
    this.watching.add(id);
    const loop = async () => {
      for (;;) {
        const rec = this.d.containers.byId(id);
        if (!rec || !rec.state.Running) break;
        try {
          const shim = this.shim(rec);
          const w = await unary('shim', shim.wait.bind(shim), {}, NO_DEADLINE);
          this.watching.delete(id);
          this.exited(id, w.exitCode, w.exitedUnixMs);
          return;
        } catch (err) {
          // A shim that is gone for good has left its exit status in the bundle.
          if (!(await socketAnswers(rec.shimSocket))) {
            this.watching.delete(id);
            const exit = readExitFile(rec.bundle);
            this.exited(id, exit?.exitCode ?? 255, exit?.exitedUnixMs ?? Date.now(), exit ? '' : `shim lost: ${messageOf(err)}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      this.watching.delete(id);
    };
    void loop();
  }

  private exited(id: string, exitCode: number, exitedUnixMs: number, error = ''): void {
    const rec = this.d.containers.byId(id);
    if (!rec) return;
    const ranMs = exitedUnixMs - Date.parse(rec.state.StartedAt);
    Object.assign(rec.state, {
      Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: exitCode, Error: error,
      FinishedAt: new Date(exitedUnixMs || Date.now()).toISOString(),
    } satisfies Partial<State>);
    const restart = shouldRestart(rec.hostConfig.RestartPolicy, exitCode, rec.restartCount, rec.manuallyStopped);
    if (restart) Object.assign(rec.state, { Restarting: true, Status: 'restarting' });
    this.d.containers.save(rec);
    this.d.event('die', rec, { exitCode: String(exitCode) });
    this.notify(this.exitWaiters, id, { exitCode, error });
    if (restart) {
      const delay = restartDelayMs(this.restartDelays.get(id) ?? 0, ranMs);
      this.restartDelays.set(id, delay);
      this.restartTimers.set(
        id,
        setTimeout(() => {
          const r = this.d.containers.byId(id);
          if (!r || !r.state.Restarting) return;
          r.restartCount++;
          this.run(r).catch((err: unknown) => {
            this.d.logger.warn({ id, err: messageOf(err) }, 'restart failed');
            this.exited(id, r.state.ExitCode, Date.now(), messageOf(err));
          });
        }, delay),
      );
    } else {
      void this.unpublish(id);
    }
    if (!restart && rec.hostConfig.AutoRemove) {
      void this.remove(rec, true).catch((err: unknown) => this.d.logger.error({ id, err: messageOf(err) }, 'auto-remove failed'));
    }
  }

  /** Hosts entries for a container's --link targets that still exist. */
  private linkHostsOf(rec: ContainerRecord): string[] {
    return ((rec.hostConfig.Links as string[] | undefined) ?? []).flatMap((l) => {
      try {
        return linkHosts(resolveLinks(this.d.containers, [l]));
      } catch {
        return [];
      }
    });
  }

  /** Stopped containers hold no host ports, as in Docker; failures only log (rm releases all). */
  private async unpublish(id: string): Promise<void> {
    await withRetry(`unpublish ${id}`, () => setPublished(this.d.peers, this.d.containers, id, false), this.d.logger);
  }

  private notify(map: Map<string, Set<(r: ExitResult) => void>>, id: string, r: ExitResult): void {
    const set = map.get(id);
    map.delete(id);
    for (const fn of set ?? []) fn(r);
  }

  private waitFor(map: Map<string, Set<(r: ExitResult) => void>>, id: string): Promise<ExitResult> {
    return new Promise((resolve) => {
      let set = map.get(id);
      if (!set) map.set(id, (set = new Set()));
      set.add(resolve);
    });
  }

  /** Resolves when the condition holds; `registered` runs once the waiter is in place. */
  async wait(ref: string, condition: string, registered: () => void): Promise<ExitResult> {
    const rec = this.d.containers.get(ref);
    const cond = condition || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw invalidArgument(`invalid condition: "${condition}"`);
    if (cond === 'removed') {
      const p = this.waitFor(this.removeWaiters, rec.id);
      registered();
      return p;
    }
    if (cond === 'not-running' && !rec.state.Running && !rec.state.Restarting) {
      registered();
      return { exitCode: rec.state.ExitCode, error: rec.state.Error };
    }
    const p = this.waitFor(this.exitWaiters, rec.id);
    registered();
    return p;
  }

  async stop(ref: string, timeoutSeconds: number, signal: string): Promise<{ already: boolean }> {
    const rec = this.d.containers.get(ref);
    clearTimeout(this.restartTimers.get(rec.id));
    if (rec.state.Restarting) {
      Object.assign(rec.state, { Restarting: false, Status: 'exited' });
      rec.manuallyStopped = true;
      this.d.containers.save(rec);
      return { already: false };
    }
    if (!rec.state.Running) return { already: true };
    rec.manuallyStopped = true;
    this.d.containers.save(rec);
    const timeout = timeoutSeconds >= 0 ? timeoutSeconds : (rec.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S);
    const sig = parseSignal(signal || rec.config.StopSignal);
    const exited = this.waitFor(this.exitWaiters, rec.id);
    const shim = this.shim(rec);
    if (rec.state.Paused) await unary('shim', shim.resume.bind(shim), {}).catch(() => undefined);
    await unary('shim', shim.kill.bind(shim), { signal: sig, all: false }).catch(() => undefined);
    const timedOut = await Promise.race([exited.then(() => false), sleep(timeout * 1000).then(() => true)]);
    if (timedOut) {
      await unary('shim', shim.kill.bind(shim), { signal: 9, all: true }).catch(() => undefined);
      await exited;
    }
    this.d.event('stop', rec);
    return { already: false };
  }

  async restart(ref: string, timeoutSeconds: number, signal: string): Promise<void> {
    const rec = this.d.containers.get(ref);
    await this.stop(rec.id, timeoutSeconds, signal);
    rec.manuallyStopped = false;
    await this.run(rec);
    this.d.event('restart', rec);
  }

  async kill(ref: string, signal: string): Promise<void> {
    const rec = this.d.containers.get(ref);
    const sig = parseSignal(signal, 'SIGKILL');
    if (!rec.state.Running) throw conflict(`Cannot kill container: ${ref}: Container ${rec.id} is not running`);
    const shim = this.shim(rec);
    await unary('shim', shim.kill.bind(shim), { signal: sig, all: false });
    this.d.event('kill', rec, { signal: String(sig) });
  }

  async pause(ref: string, pause: boolean): Promise<void> {
    const rec = this.d.containers.get(ref);
    if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`);
    if (pause && rec.state.Paused) throw conflict(`Container ${rec.id} is already paused`);
    if (!pause && !rec.state.Paused) throw conflict(`Container ${rec.id} is not paused`);
    const shim = this.shim(rec);
    await unary('shim', (pause ? shim.pause : shim.resume).bind(shim), {});
    Object.assign(rec.state, { Paused: pause, Status: pause ? 'paused' : 'running' });
    this.d.containers.save(rec);
    this.d.event(pause ? 'pause' : 'unpause', rec);
  }

  rename(ref: string, newName: string): void {
    const rec = this.d.containers.get(ref);
    if (!newName) throw invalidArgument('Neither old nor new names may be empty');
    const name = this.d.containers.checkName(newName, rec.id);
    if (name === rec.name) throw invalidArgument(`Renaming a container with the same name as its current name`);
    rec.name = name;
    this.d.containers.save(rec);
    this.d.event('rename', rec);
  }

  async delete(ref: string, force: boolean, removeVolumes = false): Promise<void> {
    const rec = this.d.containers.get(ref);
    if ((rec.state.Running || rec.state.Restarting) && !force) {
      throw conflict(`cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`);
    }
    await this.remove(rec, force, removeVolumes);
  }

  private async remove(rec: ContainerRecord, force: boolean, removeVolumes = rec.hostConfig.AutoRemove === true): Promise<void> {
    clearTimeout(this.restartTimers.get(rec.id));
    // A record left in "removing" by a crash or a failed step is finished by the next call;
    // only a removal in progress right now makes a second one a no-op.
    if (this.removing.has(rec.id)) return;
    this.removing.add(rec.id);
    try {
      await this.removeNow(rec, force, removeVolumes);
    } finally {
      this.removing.delete(rec.id);
    }
  }

  private async removeNow(rec: ContainerRecord, force: boolean, removeVolumes: boolean): Promise<void> {
    if (rec.state.Running && force) {
      rec.manuallyStopped = true;
      const exited = this.waitFor(this.exitWaiters, rec.id);
      const shim = this.shim(rec);
      await unary('shim', shim.kill.bind(shim), { signal: 9, all: true }).catch(() => undefined);
      await Promise.race([exited, sleep(10_000)]);
    }
    rec.state.Status = 'removing';
    rec.removeVolumes = rec.removeVolumes || removeVolumes;
    this.d.containers.save(rec);
    // The shim's shutdown is what unmounts the rootfs and clears the runtime's state, so an idle
    // shim that has exited is started once more to do it.
    await this.withShim(rec, (shim) => unary('shim', shim.shutdown.bind(shim), {}, { deadlineMs: 30_000, idempotent: false })).catch((err: unknown) =>
      this.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'shim shutdown failed'),
    );
    this.dropShim(rec.id);
    await releaseMounts(this.d.peers, rec.id, rec.removeVolumes ?? false, this.d.logger);
    const snaps = this.d.peers.snapshots;
    await unary('snapshotter', snaps.remove.bind(snaps), { key: rec.rootfsKey }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    if (rec.networks?.length) await withRetry(`release ${rec.id}`, () => releaseNetwork(this.d.peers, rec.id), this.d.logger);
    rmSync(rec.bundle, { recursive: true, force: true });
    rmSync(this.filesDir(rec.id), { recursive: true, force: true });
    rmSync(rec.shimSocket, { force: true });
    this.d.containers.remove(rec.id);
    this.d.event('destroy', rec);
    this.notify(this.exitWaiters, rec.id, { exitCode: rec.state.ExitCode, error: rec.state.Error });
    this.notify(this.removeWaiters, rec.id, { exitCode: rec.state.ExitCode, error: rec.state.Error });
  }

  async shimAddress(ref: string): Promise<{ address: string; tty: boolean; openStdin: boolean; id: string }> {
    const rec = this.d.containers.get(ref);
    await this.ensureShim(rec);
    return { id: rec.id, address: `unix://${rec.shimSocket}`, tty: rec.config.Tty, openStdin: rec.config.OpenStdin };
  }

  /** Brings an exec's state up to date from the shim that runs it. */
  async refreshExec(e: ExecRecord): Promise<void> {
    if (!e.started || !e.running) return;
    const rec = this.d.containers.byId(e.containerId);
    // An exec dies with its container; the stopped container's shim may have exited since.
    if (!rec || (!rec.state.Running && !(await socketAnswers(rec.shimSocket)))) {
      e.running = false;
      return;
    }
    const shim = this.shim(rec);
    const st = await unary('shim', shim.execState.bind(shim), { execId: e.id }).catch(() => undefined);
    if (!st) return;
    e.pid = st.pid;
    if (!st.running && st.found) {
      e.running = false;
      e.exitCode = st.exitCode;
    }
  }

  async top(ref: string, psArgs: string): Promise<{ titles: string[]; processes: { columns: string[] }[] }> {
    const rec = this.d.containers.get(ref);
    if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`);
    const shim = this.shim(rec);
    const pids = new Set((await unary('shim', shim.pids.bind(shim), {})).pids);
    const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
    let out: string;
    try {
      out = (await execFileP('ps', args, { maxBuffer: 16 << 20 })).stdout;
    } catch (err) {
      throw invalidArgument(`Error running ps: ${messageOf(err)}`);
    }
    const lines = out.split('\n').filter((l) => l.trim());
    const titles = lines[0]!.trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw invalidArgument(`Couldn't find PID field in ps output`);
    const processes = lines
      .slice(1)
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
      })
      .filter((f) => pids.has(Number(f[pidCol])))
      .map((columns) => ({ columns }));
    return { titles, processes };
  }

  async prune(filtersJson: string): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const filters = filtersJson ? (JSON.parse(filtersJson) as Record<string, string[] | Record<string, boolean>>) : {};
    const labels = normaliseFilter(filters.label);
    const until = normaliseFilter(filters.until)[0];
    const untilMs = until ? parseUntil(until) : Infinity;
    const deleted: string[] = [];
    for (const rec of this.d.containers.all()) {
      if (rec.state.Running || rec.state.Restarting || rec.state.Paused) continue;
      if (Date.parse(rec.created) > untilMs) continue;
      if (!labels.every((l) => matchLabel(rec.config.Labels, l))) continue;
      await this.remove(rec, false);
      deleted.push(rec.id);
    }
    return { deleted, spaceReclaimed: 0 };
  }

  /**
   * After a supervisor (re)start: learn what happened to every container while nobody was
   * watching. A running container's shim is asked; one whose shim is gone has an exit record.
   */
  async reconcile(): Promise<void> {
    for (const rec of this.d.containers.all()) {
      if (rec.state.Status === 'removing') {
        await this.remove(rec, true).catch((err: unknown) => this.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'finishing removal failed'));
        continue;
      }
      if (!rec.state.Running && !rec.state.Restarting) {
        // A crash between the exit and the unpublish left its ports published.
        if (rec.networks?.some((n) => n.ports.length)) await this.unpublish(rec.id);
        continue;
      }
      if (await socketAnswers(rec.shimSocket)) {
        const shim = this.shim(rec);
        try {
          const st = await unary('shim', shim.state.bind(shim), {});
          if (st.status === 'running' || st.status === 'paused') {
            Object.assign(rec.state, { Running: true, Restarting: false, Paused: st.status === 'paused', Status: st.status, Pid: st.pid });
            this.d.containers.save(rec);
            this.watchExit(rec.id);
          } else {
            this.exited(rec.id, st.exitCode, st.exitedUnixMs || Date.now());
          }
          continue;
        } catch (err) {
          this.d.logger.warn({ id: rec.id, err: messageOf(err) }, 'shim did not answer State');
        }
      }
      const exit = readExitFile(rec.bundle);
      this.exited(rec.id, exit?.exitCode ?? 255, exit?.exitedUnixMs ?? Date.now(), exit ? '' : 'container shim disappeared');
    }
    // Endpoints of containers whose creation a crash cut short.
    const keep = [...this.d.containers.all().map((c) => c.id), ...this.creating];
    await retainNetworks(this.d.peers, keep).then(
      (released) => released.length && this.d.logger.info({ released }, 'released networking of unknown containers'),
      (err: unknown) => this.d.logger.warn({ err: messageOf(err) }, 'could not reconcile networking with netproxy'),
    );
  }

  close(): void {
    for (const t of this.restartTimers.values()) clearTimeout(t);
    for (const c of this.shims.values()) c.close();
    this.shims.clear();
  }
}

function readExitFile(bundle: string): { exitCode: number; exitedUnixMs: number } | undefined {
  try {
    return JSON.parse(readFileSync(join(bundle, 'exit.json'), 'utf8')) as { exitCode: number; exitedUnixMs: number };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** "10m", "1g", "512k", "100" -> bytes; 0 when unset. */
export function parseSize(s: string | undefined): number {
  if (!s) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid size: '${s}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

function normaliseFilter(v: string[] | Record<string, boolean> | undefined): string[] {
  if (!v) return [];
  return Array.isArray(v) ? v : Object.keys(v).filter((k) => v[k]);
}

function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  return i < 0 ? filter in labels : labels[filter.slice(0, i)] === filter.slice(i + 1);
}

function parseUntil(v: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (m) return Date.now() - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[m[2] as 's' | 'm' | 'h'];
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid filter 'until=${v}'`);
  return t;
}
