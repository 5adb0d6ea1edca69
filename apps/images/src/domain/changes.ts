import { type ImageConfig, parseDockerfile, StageState } from '@berth/dockerfile';
import { invalidArgument } from '@berth/errors';

export interface ContainerConfigDoc {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
}

/** The instructions `docker commit --change` and `docker import --change` take. */
const CHANGE_COMMANDS = new Set(['cmd', 'entrypoint', 'env', 'label', 'workdir', 'user', 'healthcheck', 'stopsignal', 'expose', 'volume', 'onbuild']);

/**
 * Applies `--change` Dockerfile instructions, as `docker import` and `docker commit` accept
 * them: parsed and applied by the builder's own Dockerfile library (@berth/dockerfile), so a
 * change means what the same line means in a Dockerfile (JSON and shell forms, quoting,
 * variable substitution, ENTRYPOINT resetting an inherited CMD).
 */
export function applyChanges(cfg: ContainerConfigDoc, changes: string[]): ContainerConfigDoc {
  const state = new StageState(cfg as ImageConfig, {}, {});
  for (const change of changes) {
    const m = /^\s*(\w+)(\s|$)/.exec(change);
    if (!m) throw invalidArgument(`invalid change: ${JSON.stringify(change)}`);
    if (!CHANGE_COMMANDS.has(m[1]!.toLowerCase())) throw invalidArgument(`${m[1]} is not a valid change command`);
    for (const i of parseDockerfile(`${change}\n`).instructions) state.apply(i);
  }
  const out = state.config as ContainerConfigDoc & ImageConfig;
  // What the Dockerfile state adds for a build (an empty Env, OnBuild, ArgsEscaped) is not a change.
  for (const k of ['Env', 'OnBuild', 'ArgsEscaped'] as const) if (!(k in cfg) && (out[k] == null || (Array.isArray(out[k]) && (out[k] as unknown[]).length === 0))) delete out[k];
  if (!('ArgsEscaped' in cfg)) delete out.ArgsEscaped;
  return out;
}
