import { posix } from 'node:path';
import { invalidArgument } from '@berth/errors';
import { envLookup, expandWord, expandWords, type Lookup, splitKeepingQuotes } from './expand';
import { jsonArray, type Instruction } from './parse';
import { argPairs } from './stages';

/** The image config fields a Dockerfile sets (Docker's names, so it goes into the image as is). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  Shell?: string[];
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
  [k: string]: unknown;
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A RUN step resolved against the state: what the container runs and what history records. */
export interface RunStep {
  cmd: string[];
  /** Build args the command sees, `k=v`, sorted (also part of the cache key and history). */
  args: string[];
  createdBy: string;
}

/** A COPY or ADD step resolved against the state. */
export interface CopyStep {
  add: boolean;
  sources: string[];
  /** Absolute destination inside the image; ends in '/' when given so. */
  dest: string;
  from: string;
  chown: string;
  chmod: string;
}

const needArgs = (i: Instruction, msg: string) => invalidArgument(`dockerfile parse error line ${i.line}: ${msg}`);
const NAME = (i: Instruction) => i.name.toUpperCase();

const GO_DURATION = /^(?:(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns))+$/;
const UNIT_NS: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, µs: 1e3, ns: 1 };

/** A Go duration ("1m30s") in nanoseconds. */
export function parseDuration(s: string, flag: string): number {
  if (s === '0') return 0;
  if (!GO_DURATION.test(s)) throw invalidArgument(`time: invalid duration "${s}" for --${flag}`);
  let ns = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
  return Math.round(ns);
}

const PORT = /^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/i;

/**
 * The state of one stage while it is dispatched: the config being built, the ARGs declared
 * so far and their values, and the rules by which each metadata instruction changes them.
 * The builder owns I/O (containers, layers, cache); this owns what the Dockerfile means.
 */
export class StageState {
  config: ImageConfig;
  author = '';
  /** Declared ARGs with their values (undefined: declared, no value). */
  readonly args = new Map<string, string | undefined>();
  /** Build args named by some ARG, to warn about the rest. */
  readonly usedArgs = new Set<string>();
  private cmdSet = false;

  constructor(
    base: ImageConfig,
    private readonly buildArgs: Record<string, string | undefined>,
    private readonly metaValues: Record<string, string>,
    readonly escape = '\\',
  ) {
    this.config = structuredClone({ ...base, OnBuild: null });
    if (!this.config.Env) this.config.Env = [];
  }

  /** Variables for expansion: ENV wins over ARG, as in Docker. */
  lookup(): Lookup {
    const args: Record<string, string | undefined> = {};
    for (const [k, v] of this.args) args[k] = v;
    return envLookup(args, this.config.Env ?? []);
  }

  shell(): string[] {
    return this.config.Shell?.length ? this.config.Shell : DEFAULT_SHELL;
  }

  private commandLine(i: Instruction): string[] {
    if (i.json) return i.args;
    const text = i.args[0] ?? '';
    return [...this.shell(), text];
  }

  /** Build args the RUN container sees (declared ARGs with a value), as `k=v`. */
  runArgs(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.args) if (v !== undefined) out.push(`${k}=${v}`);
    return out.sort();
  }

  /** `#(nop)` history entries as the classic builder writes them. */
  nop(text: string): string {
    return `${this.shell().join(' ')} #(nop) ${text}`;
  }

  run(i: Instruction): RunStep {
    if (!i.args.length || (!i.json && !i.args[0])) throw needArgs(i, 'RUN requires at least one argument');
    for (const [k] of i.flags) throw needArgs(i, `Unknown flag: ${k}`);
    const cmd = this.commandLine(i);
    const args = this.runArgs();
    const prefix = args.length ? `|${args.length} ${args.join(' ')} ` : '';
    return { cmd, args, createdBy: `${prefix}${cmd.join(' ')}` };
  }

  copy(i: Instruction): CopyStep {
    const add = i.name === 'add';
    const allowed = add ? ['chown', 'chmod'] : ['chown', 'chmod', 'from'];
    for (const [k] of i.flags) if (!allowed.includes(k)) throw needArgs(i, `Unknown flag: ${k}`);
    const flag = (k: string) => expandWord(i.flags.find(([f]) => f === k)?.[1] ?? '', this.lookup(), this.escape);
    const words = i.json ? i.args.map((a) => expandWord(a, this.lookup(), this.escape)) : expandWords(i.args[0] ?? '', this.lookup(), this.escape);
    if (words.length < 2) {
      throw needArgs(i, words.length === 1 ? `${NAME(i)} requires at least two arguments, but only one was provided. Destination could not be determined.` : `${NAME(i)} requires at least two arguments`);
    }
    const rawDest = words.at(-1)!;
    const slash = rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.');
    let dest = posix.isAbsolute(rawDest) ? rawDest : posix.join(this.config.WorkingDir || '/', rawDest);
    dest = posix.normalize(dest);
    if (slash && !dest.endsWith('/')) dest += '/';
    const chmod = flag('chmod');
    if (chmod && !/^[0-7]{1,4}$/.test(chmod)) throw needArgs(i, `invalid chmod parameter: ${chmod}`);
    return { add, sources: words.slice(0, -1), dest, from: flag('from'), chown: flag('chown'), chmod };
  }

  /**
   * Applies a metadata-only instruction (everything but FROM, RUN, COPY, ADD) to the config.
   * Returns the history text (`/bin/sh -c #(nop) ...`) or '' when the step makes no image
   * of its own... which in the classic builder never happens: each one is a commit.
   */
  apply(i: Instruction): string {
    const env = this.lookup();
    const text = i.args[0] ?? '';
    const c = this.config;
    switch (i.name) {
      case 'env': {
        const pairs = this.pairs(i, env);
        const list = [...(c.Env ?? [])];
        for (const [k, v] of pairs) {
          const at = list.findIndex((e) => e.startsWith(`${k}=`) || e === k);
          if (at >= 0) list[at] = `${k}=${v}`;
          else list.push(`${k}=${v}`);
        }
        c.Env = list;
        return this.nop(` ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'label': {
        const pairs = this.pairs(i, env);
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of pairs) c.Labels[k] = v;
        return this.nop(` LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'maintainer':
        if (!text) throw needArgs(i, 'MAINTAINER requires exactly one argument');
        this.author = text;
        return this.nop(` MAINTAINER ${text}`);
      case 'cmd':
        if (!i.json && !text) throw needArgs(i, 'CMD requires at least one argument');
        c.Cmd = this.commandLine(i);
        c.ArgsEscaped = !i.json || undefined;
        this.cmdSet = true;
        return this.nop(` CMD ${JSON.stringify(c.Cmd)}`);
      case 'entrypoint':
        if (!i.json && !text) {
          c.Entrypoint = null;
        } else c.Entrypoint = this.commandLine(i);
        // An ENTRYPOINT resets a CMD inherited from the base image, not one set in this stage.
        if (!this.cmdSet) c.Cmd = null;
        return this.nop(` ENTRYPOINT ${JSON.stringify(c.Entrypoint ?? [])}`);
      case 'expose': {
        const ports = expandWords(text, env, this.escape);
        if (!ports.length) throw needArgs(i, 'EXPOSE requires at least one argument');
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        const keys: string[] = [];
        for (const p of ports) {
          if (!PORT.test(p)) throw invalidArgument(`Invalid containerPort: ${p.split('/')[0]}`);
          const [range, proto = 'tcp'] = p.split('/') as [string, string?];
          const [lo, hi = lo] = range.split('-').map(Number) as [number, number?];
          for (let n = lo; n <= hi!; n++) {
            const key = `${n}/${proto.toLowerCase()}`;
            c.ExposedPorts[key] = {};
            keys.push(key);
          }
        }
        return this.nop(` EXPOSE ${keys.join(' ')}`);
      }
      case 'volume': {
        const vols = i.json ? i.args : expandWords(text, env, this.escape);
        if (!vols.length) throw needArgs(i, 'VOLUME requires at least one argument');
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of vols) {
          if (!v.trim()) throw invalidArgument('VOLUME specified can not be an empty string');
          c.Volumes[v] = {};
        }
        return this.nop(` VOLUME ${JSON.stringify(vols)}`);
      }
      case 'user': {
        if (!text) throw needArgs(i, 'USER requires exactly one argument');
        c.User = expandWord(text, env, this.escape);
        return this.nop(` USER ${c.User}`);
      }
      case 'workdir': {
        if (!text) throw needArgs(i, 'WORKDIR requires exactly one argument');
        const w = expandWord(text, env, this.escape);
        c.WorkingDir = posix.normalize(posix.isAbsolute(w) ? w : posix.join(c.WorkingDir || '/', w));
        return this.nop(`WORKDIR ${c.WorkingDir}`);
      }
      case 'stopsignal': {
        const s = expandWord(text, env, this.escape);
        if (!s) throw needArgs(i, 'STOPSIGNAL requires exactly one argument');
        if (!/^(SIG)?[A-Z0-9+-]+$/i.test(s)) throw invalidArgument(`Invalid signal: ${s}`);
        c.StopSignal = s;
        return this.nop(` STOPSIGNAL ${s}`);
      }
      case 'shell': {
        const sh = jsonArray(text) ?? (i.json ? i.args : null);
        if (!sh) throw needArgs(i, 'SHELL requires the arguments to be in JSON form');
        if (!sh.length) throw needArgs(i, 'SHELL requires at least one argument');
        c.Shell = sh;
        return this.nop(` SHELL ${JSON.stringify(sh)}`);
      }
      case 'onbuild': {
        const trigger = text.replace(/^(\S+)/, (w) => w.toUpperCase());
        c.OnBuild = [...(c.OnBuild ?? []), trigger];
        return this.nop(` ONBUILD ${trigger}`);
      }
      case 'healthcheck':
        return this.healthcheck(i);
      case 'arg': {
        const shown: string[] = [];
        for (const [k, v] of argPairs(i, this.escape)) {
          const given = this.buildArgs[k];
          let value = given;
          if (value === undefined) value = v !== undefined ? expandWord(v, env, this.escape) : this.metaValues[k];
          this.args.set(k, value);
          if (given !== undefined) this.usedArgs.add(k);
          shown.push(v !== undefined ? `${k}=${v}` : k);
        }
        return this.nop(` ARG ${shown.join(' ')}`);
      }
      default:
        throw invalidArgument(`${NAME(i)} is not a metadata instruction`);
    }
  }

  private healthcheck(i: Instruction): string {
    const rest = (i.args[0] ?? '').trim();
    const c = this.config;
    if (/^none$/i.test(rest)) {
      if (i.flags.length) throw needArgs(i, 'HEALTHCHECK NONE takes no arguments');
      c.Healthcheck = { Test: ['NONE'] };
      return this.nop(` HEALTHCHECK &{["NONE"] "0s" "0s" "0s" '\\x00'}`);
    }
    const m = /^cmd\s+([\s\S]+)$/i.exec(rest);
    if (!m) throw needArgs(i, 'Unknown type "' + (rest.split(/\s+/)[0] ?? '').toUpperCase() + '" in HEALTHCHECK (try CMD)');
    const body = m[1]!;
    const arr = jsonArray(body);
    const hc: NonNullable<ImageConfig['Healthcheck']> = { Test: arr ? ['CMD', ...arr] : ['CMD-SHELL', body] };
    for (const [k, v] of i.flags) {
      if (k === 'interval') hc.Interval = parseDuration(v, k);
      else if (k === 'timeout') hc.Timeout = parseDuration(v, k);
      else if (k === 'start-period') hc.StartPeriod = parseDuration(v, k);
      else if (k === 'retries') {
        if (!/^\d+$/.test(v)) throw invalidArgument(`strconv.ParseInt: parsing "${v}": invalid syntax`);
        hc.Retries = Number(v);
        if (hc.Retries < 1) throw needArgs(i, '--retries must be at least 1');
      } else throw needArgs(i, `Unknown flag: ${k}`);
    }
    c.Healthcheck = hc;
    return this.nop(` HEALTHCHECK &{${JSON.stringify(hc.Test)}}`);
  }

  private pairs(i: Instruction, env: Lookup): [string, string][] {
    const text = i.args[0] ?? '';
    const N = NAME(i);
    if (!text) throw needArgs(i, `${N} requires at least one argument`);
    const words = splitKeepingQuotes(text, this.escape);
    if (!words[0]!.includes('=')) {
      // The legacy form `ENV key value with spaces`.
      if (words.length < 2) throw needArgs(i, `${N} must have two arguments`);
      const key = words[0]!;
      const value = text.trim().slice(key.length).trim();
      return [[expandWord(key, env, this.escape), expandWord(value, env, this.escape)]];
    }
    return words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw invalidArgument(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      const k = expandWord(w.slice(0, eq), env, this.escape);
      if (!k) throw invalidArgument(`${N} names can not be blank`);
      return [k, expandWord(w.slice(eq + 1), env, this.escape)];
    });
  }

  /** Build args given that no ARG of the build consumed. */
  static unusedArgs(buildArgs: Record<string, string | undefined>, used: Iterable<string>): string[] {
    const u = new Set(used);
    return Object.keys(buildArgs).filter((k) => !u.has(k)).sort();
  }
}
