import { invalidArgument } from '@berth/errors';
import { type BerthConfig, type DaemonJson, readDaemonJson, resolveConfig } from './config';

/** Flags that stand for a daemon.json key, as dockerd has them. */
const FLAG_KEYS: Record<string, { key: string; list?: boolean; bool?: boolean; parse?: (v: string) => unknown }> = {
  '--data-root': { key: 'data-root' },
  '--exec-root': { key: 'exec-root' },
  '-H': { key: 'hosts', list: true },
  '--host': { key: 'hosts', list: true },
  '--redis': { key: 'redis' },
  '--storage-driver': { key: 'storage-driver' },
  '-s': { key: 'storage-driver' },
  '--log-level': { key: 'log-level' },
  '-l': { key: 'log-level' },
  '--log-format': { key: 'log-format' },
  '--default-runtime': { key: 'default-runtime' },
  '--dns': { key: 'dns', list: true },
  '--insecure-registry': { key: 'insecure-registries', list: true },
  '--registry-listen': { key: 'registry-listen' },
  '--metrics-addr': { key: 'metrics-addr' },
  '--registry-host': { key: 'registry-hosts', list: true },
  '--debug': { key: 'debug', bool: true },
  '-D': { key: 'debug', bool: true },
  '--bridge': { key: 'bridge' },
  '-b': { key: 'bridge' },
  '--bip': { key: 'bip' },
  '--mtu': { key: 'mtu', parse: Number },
  '--default-address-pool': { key: 'default-address-pools', list: true, parse: parseAddressPool },
  '--tls': { key: 'tls', bool: true },
  '--tlsverify': { key: 'tlsverify', bool: true },
  '--tlscacert': { key: 'tlscacert' },
  '--tlscert': { key: 'tlscert' },
  '--tlskey': { key: 'tlskey' },
  '-G': { key: 'group' },
  '--group': { key: 'group' },
  '--userns-remap': { key: 'userns-remap' },
  '--default-monitor': { key: 'default-monitor' },
};

/** dockerd's `--default-address-pool base=10.10.0.0/16,size=24`. */
function parseAddressPool(v: string): unknown {
  const kv = Object.fromEntries(v.split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!kv.base || !kv.size || !/^\d+$/.test(kv.size)) throw invalidArgument(`invalid default address pool: ${v}: want base=<cidr>,size=<prefix length>`);
  return { base: kv.base, size: Number(kv.size) };
}

export interface ParsedFlags {
  configFile: string | undefined;
  /** daemon.json keys set by flags. */
  values: DaemonJson;
  /** Words that are not flags (sub-commands of tools that share the parser). */
  rest: string[];
}

export function parseFlags(argv: string[]): ParsedFlags {
  const values: DaemonJson = {};
  const rest: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw invalidArgument(`flag needs an argument: ${name}`);
      return v;
    };
    if (name === '--config' || name === '--config-file') {
      configFile = takeValue();
      continue;
    }
    const spec = FLAG_KEYS[name];
    if (!spec) {
      if (arg.startsWith('-')) throw invalidArgument(`unknown flag: ${name}`);
      rest.push(arg);
      continue;
    }
    if (spec.bool) values[spec.key] = inline === undefined ? true : inline !== 'false';
    else if (spec.list) values[spec.key] = [...((values[spec.key] as unknown[] | undefined) ?? []), (spec.parse ?? String)(takeValue())];
    else values[spec.key] = (spec.parse ?? String)(takeValue());
  }
  return { configFile, values, rest };
}

/**
 * Loads the configuration from flags and an optional config file. As dockerd does, a key set
 * both by a flag and in the file is an error rather than a silent override.
 */
export function loadConfig(argv: string[]): { config: BerthConfig; rest: string[] } {
  const { configFile, values, rest } = parseFlags(argv);
  const fromFile = configFile ? readDaemonJson(configFile) : {};
  const both = Object.keys(values).filter((k) => k in fromFile);
  if (both.length > 0) {
    const detail = both
      .map((k) => `${k}: (from flag: ${JSON.stringify(values[k])}, from file: ${JSON.stringify(fromFile[k])})`)
      .join(', ');
    throw invalidArgument(`the following directives are specified both as a flag and in the configuration file: ${detail}`);
  }
  return { config: resolveConfig({ ...fromFile, ...values }, configFile), rest };
}
