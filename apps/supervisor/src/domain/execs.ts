import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, failedPrecondition, invalidArgument, notFound } from '@berth/errors';
import { newId } from '@berth/ids';
import type { Process } from '@berth/oci-spec';
import { capabilities } from '@berth/oci-spec';
import { hostSecurity } from './security-opts';
import { resolveInRoot } from '@berth/rootfs';
import type { Containers } from './containers';
import { execEnv } from './process-env';
import type { ContainerRecord } from './model';
import { resolveUser } from './user';

/** Engine API ExecConfig, the fields Berth acts on. */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Privileged?: boolean;
  DetachKeys?: string;
  /** [height, width], sent by API 1.42+ clients so a TTY starts at the right size. */
  ConsoleSize?: [number, number] | null;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  started: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
}

/**
 * Execs live in memory, as in Docker: they belong to a running container and a restarted
 * supervisor forgets them (their processes keep running in the container).
 */
export class Execs {
  private readonly records = new Map<string, ExecRecord>();

  constructor(private readonly containers: Containers) {}

  create(ref: string, bodyJson: Uint8Array): string {
    const c = this.containers.get(ref);
    if (!c.state.Running) throw failedPrecondition(`container ${c.id} is not running`);
    if (c.state.Paused) throw conflict(`container ${c.id} is paused, unpause the container before exec`);
    let config: ExecConfig;
    try {
      config = JSON.parse(Buffer.from(bodyJson).toString('utf8') || '{}') as ExecConfig;
    } catch (err) {
      throw invalidArgument(`invalid JSON in request body: ${(err as Error).message}`);
    }
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) throw invalidArgument('No exec command specified');
    const id = newId();
    this.records.set(id, { id, containerId: c.id, config, started: false, running: false, exitCode: null, pid: 0 });
    return id;
  }

  get(id: string): ExecRecord {
    const r = this.records.get(id);
    if (!r) throw notFound(`No such exec instance: ${id}`);
    return r;
  }

  /** The OCI process for an exec: the container's own process settings with the exec's overrides. */
  process(e: ExecRecord, c: ContainerRecord): Process {
    const spec = JSON.parse(readFileSync(join(c.bundle, 'config.json'), 'utf8')) as { process: Process };
    const rootfs = join(c.bundle, 'rootfs');
    const read = (p: string) => {
      try {
        return readFileSync(resolveInRoot(rootfs, p), 'utf8');
      } catch {
        return '';
      }
    };
    const user = e.config.User ? resolveUser(e.config.User, read('etc/passwd'), read('etc/group')) : spec.process.user;
    const caps = e.config.Privileged ? capabilities(true, [], [], hostSecurity().capabilities) : spec.process.capabilities.bounding;
    return {
      ...spec.process,
      terminal: e.config.Tty ?? false,
      consoleSize: e.config.Tty && e.config.ConsoleSize && e.config.ConsoleSize[0] > 0 ? { height: e.config.ConsoleSize[0], width: e.config.ConsoleSize[1] } : undefined,
      args: e.config.Cmd!,
      env: execEnv(spec.process.env ?? [], c.config.Env, e.config.Tty ?? false, e.config.Env ?? []),
      cwd: e.config.WorkingDir || spec.process.cwd,
      user,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
    };
  }

  forContainer(containerId: string): string[] {
    return [...this.records.values()].filter((r) => r.containerId === containerId).map((r) => r.id);
  }

  drop(containerId: string): void {
    for (const [id, r] of this.records) if (r.containerId === containerId) this.records.delete(id);
  }
}

export function inspectExec(e: ExecRecord, c: ContainerRecord): Record<string, unknown> {
  return {
    ID: e.id,
    Running: e.running,
    ExitCode: e.exitCode,
    ProcessConfig: { tty: e.config.Tty ?? false, entrypoint: e.config.Cmd?.[0] ?? '', arguments: e.config.Cmd?.slice(1) ?? [], privileged: e.config.Privileged ?? false, user: e.config.User ?? '' },
    OpenStdin: e.config.AttachStdin ?? false,
    OpenStderr: e.config.AttachStderr ?? false,
    OpenStdout: e.config.AttachStdout ?? false,
    CanRemove: false,
    ContainerID: c.id,
    DetachKeys: e.config.DetachKeys ?? '',
    Pid: e.pid,
  };
}
