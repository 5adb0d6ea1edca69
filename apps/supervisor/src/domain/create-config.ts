import { invalidArgument } from '@berth/errors';
import { mergeHealthcheck, type HealthConfig } from './health-config';
import type { DockerConfig, HostConfig } from './model';

/** The image config fields that become container defaults. */
export interface ImageConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Healthcheck?: HealthConfig | null;
  Shell?: string[] | null;
}

export interface CreateBody extends Partial<DockerConfig> {
  /** Config.MacAddress, where API clients before 1.44 put `--mac-address`. */
  MacAddress?: string;
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
}

export function parseCreateBody(json: Buffer | Uint8Array): CreateBody {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(json).toString('utf8') || 'null');
  } catch (err) {
    throw invalidArgument(`invalid JSON in request body: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidArgument('Config cannot be empty in order to create a container');
  }
  const b = body as CreateBody;
  // Go's strslice: a single string is a one-element list.
  const raw = b as Record<string, unknown>;
  for (const k of ['Cmd', 'Entrypoint', 'Shell']) if (typeof raw[k] === 'string') raw[k] = [raw[k]];
  const strList = (v: unknown, field: string) => {
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
      throw invalidArgument(`json: cannot unmarshal ${field}: expected a list of strings`);
    }
  };
  strList(b.Env, 'Config.Env');
  strList(b.Cmd, 'Config.Cmd');
  strList(b.Entrypoint, 'Config.Entrypoint');
  if (typeof b.Image !== 'string' || b.Image === '') throw invalidArgument('No image was specified');
  if (b.HostConfig !== undefined && (typeof b.HostConfig !== 'object' || b.HostConfig === null)) {
    throw invalidArgument('json: cannot unmarshal HostConfig: expected an object');
  }
  return b;
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** Image env first, the container's own entries replace same-named ones (Docker's merge). */
export function mergeEnv(image: string[] = [], own: string[] = []): string[] {
  const out = new Map<string, string>();
  for (const e of [...image, ...own]) out.set(envKey(e), e);
  return [...out.values()];
}

/**
 * Docker's create-time merge: unset fields come from the image; an explicit entrypoint clears
 * the image's Cmd; the process is entrypoint + cmd and must not be empty.
 */
export function mergeConfig(body: CreateBody, image: ImageConfig, id: string): { config: DockerConfig; path: string; args: string[] } {
  const entrypointGiven = Array.isArray(body.Entrypoint) && body.Entrypoint.length > 0;
  const entrypoint = entrypointGiven ? body.Entrypoint! : Array.isArray(body.Entrypoint) ? [] : (image.Entrypoint ?? []);
  const cmd = body.Cmd && body.Cmd.length > 0 ? body.Cmd : entrypointGiven ? [] : (image.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw invalidArgument('no command specified');
  const config: DockerConfig = {
    Hostname: body.Hostname || id.slice(0, 12),
    Domainname: body.Domainname ?? '',
    User: body.User || image.User || '',
    AttachStdin: body.AttachStdin ?? false,
    AttachStdout: body.AttachStdout ?? false,
    AttachStderr: body.AttachStderr ?? false,
    Tty: body.Tty ?? false,
    OpenStdin: body.OpenStdin ?? false,
    StdinOnce: body.StdinOnce ?? false,
    Env: mergeEnv(image.Env ?? [], body.Env ?? []),
    Cmd: cmd.length ? cmd : null,
    Entrypoint: entrypoint.length ? entrypoint : null,
    Image: body.Image!,
    Volumes: body.Volumes ?? image.Volumes ?? null,
    WorkingDir: body.WorkingDir || image.WorkingDir || '',
    Labels: { ...(image.Labels ?? {}), ...(body.Labels ?? {}) },
  };
  const exposed = { ...(image.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) };
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;
  const stopSignal = body.StopSignal || image.StopSignal;
  if (stopSignal) config.StopSignal = stopSignal;
  if (typeof body.StopTimeout === 'number') config.StopTimeout = body.StopTimeout;
  const healthcheck = mergeHealthcheck(body.Healthcheck, image.Healthcheck);
  if (healthcheck) config.Healthcheck = healthcheck;
  const shell = body.Shell?.length ? body.Shell : image.Shell;
  if (shell?.length) config.Shell = shell;
  return { config, path: argv[0]!, args: argv.slice(1) };
}
