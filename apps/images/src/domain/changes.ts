import { parseDuration } from '@berth/dockerfile';
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

function words(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // fall through: shell form
    }
  }
  return ['/bin/sh', '-c', t];
}

function pairs(rest: string): [string, string][] {
  const t = rest.trim();
  if (!t.includes('=')) {
    const sp = t.indexOf(' ');
    if (sp < 0) throw invalidArgument(`ENV/LABEL needs a value: ${t}`);
    return [[t.slice(0, sp), t.slice(sp + 1).trim()]];
  }
  const out: [string, string][] = [];
  for (const m of t.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const v = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    out.push([m[1]!, v]);
  }
  return out;
}

/** HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD ... | NONE. */
function healthcheck(rest: string): NonNullable<ContainerConfigDoc['Healthcheck']> {
  let t = rest.trim();
  const h: NonNullable<ContainerConfigDoc['Healthcheck']> = { Test: [] };
  for (let m = /^--([a-z-]+)=(\S+)\s*/.exec(t); m; m = /^--([a-z-]+)=(\S+)\s*/.exec(t)) {
    t = t.slice(m[0].length);
    const [, flag, value] = m as unknown as [string, string, string];
    if (flag === 'interval') h.Interval = parseDuration(value, flag);
    else if (flag === 'timeout') h.Timeout = parseDuration(value, flag);
    else if (flag === 'start-period') h.StartPeriod = parseDuration(value, flag);
    else if (flag === 'retries') h.Retries = Number(value);
    else throw invalidArgument(`Unknown flag: ${flag}`);
  }
  const m = /^(\w+)\s*([\s\S]*)$/.exec(t);
  const kind = m?.[1]?.toUpperCase();
  if (kind === 'NONE') {
    if (m![2]!.trim()) throw invalidArgument('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw invalidArgument(`Unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (try CMD)`);
  const cmd = words(m![2]!);
  h.Test = cmd[0] === '/bin/sh' && cmd[1] === '-c' && cmd.length === 3 && !m![2]!.trim().startsWith('[') ? ['CMD-SHELL', cmd[2]!] : ['CMD', ...cmd];
  return h;
}

/** Applies `--change` Dockerfile instructions, as `docker import` and `docker commit` accept them. */
export function applyChanges(cfg: ContainerConfigDoc, changes: string[]): ContainerConfigDoc {
  const out: ContainerConfigDoc = { ...cfg };
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw invalidArgument(`invalid change: ${JSON.stringify(change)}`);
    const [, instr, rest] = m as unknown as [string, string, string];
    switch (instr.toUpperCase()) {
      case 'CMD':
        out.Cmd = words(rest);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = words(rest);
        break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of pairs(rest)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(pairs(rest)) };
        break;
      case 'WORKDIR':
        out.WorkingDir = rest.trim();
        break;
      case 'USER':
        out.User = rest.trim();
        break;
      case 'HEALTHCHECK':
        out.Healthcheck = healthcheck(rest);
        break;
      case 'STOPSIGNAL':
        out.StopSignal = rest.trim();
        break;
      case 'EXPOSE':
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) out.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'VOLUME':
        out.Volumes = { ...(out.Volumes ?? {}) };
        for (const v of words(rest)[0] === '/bin/sh' ? rest.trim().split(/\s+/) : words(rest)) out.Volumes[v] = {};
        break;
      default:
        throw invalidArgument(`${instr} is not a valid change command`);
    }
  }
  return out;
}
