import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { invalidArgument } from '@berth/errors';
import { type ApiTls, DEFAULT_SOCKET_GROUP, resolveApiTls, TLS_KEYS } from './api-tls';

export const SERVICE_NAMES = ['gateway', 'images', 'snapshotter', 'supervisor', 'netproxy', 'builder'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
/** Only builds need the builder: Docker users pay for BuildKit only while building, too. */
const ON_DEMAND_BY_DEFAULT: readonly ServiceName[] = ['builder'];
const DEFAULT_IDLE_EXIT_SECONDS = 600;
/** The exit status of a service leaving because it was idle: the launcher listens for it again. */
export const IDLE_EXIT_CODE = 64;
/** The label the builder puts on its step containers (the build's id): most are never started. */
export const BUILD_STEP_LABEL = 'com.berth.build';

export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/run/berth';
export const DEFAULT_STORAGE_DRIVER = 'overlay2';
export const DEFAULT_RUNTIME = 'runc';
export const DEFAULT_LOG_DRIVER = 'json-file';
export const DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3;
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 5;
export const DEFAULT_BRIDGE = 'berth0';
/** 0: each upload may expand to the free space of the data root, less a reserve (see @berth/compression). */
export const DEFAULT_MAX_UPLOAD_EXPANDED_BYTES = 0;

export interface RuntimeConfig {
  path: string;
  runtimeArgs?: string[];
}

export interface AddressPool {
  base: string;
  size: number;
}

/** The resolved configuration every service reads. Keys mirror daemon.json, camel-cased. */
export interface BerthConfig {
  /** TLS of the Engine API's TCP listeners. */
  apiTls: ApiTls;
  /** Group given the unix socket (0660) when it exists. */
  socketGroup: string;
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  storageDriver: string;
  dns: string[];
  dnsSearch: string[];
  dnsOpts: string[];
  logDriver: string;
  logOpts: Record<string, string>;
  defaultRuntime: string;
  runtimes: Record<string, RuntimeConfig>;
  logLevel: string;
  logFormat: 'json' | 'console';
  debug: boolean;
  /** Redis URL; when the user gave none, the suite runs a private server at this address. */
  redis: string;
  privateRedis: boolean;
  /** gRPC address of every service, `unix:///path` by default under the exec root. */
  services: Record<ServiceName, string>;
  /**
   * Services with `"managed": false`: someone else serves their address; the launcher waits for
   * them and reports them, but never starts, stops or restarts them.
   */
  externalServices: ServiceName[];
  /**
   * Services the launcher starts on the first connection to their address instead of at start-up
   * (`"on-demand"`, default true for the builder only): it holds the socket until then.
   */
  onDemandServices: ServiceName[];
  /**
   * For each on-demand service, how long it may go without work before it exits (IDLE_EXIT_CODE)
   * and the launcher holds its socket again (`"idle-exit-seconds"`, default 600; 0: never).
   */
  idleExitMs: Partial<Record<ServiceName, number>>;
  insecureRegistries: string[];
  registryMirrors: string[];
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** What one upload (load, import, cp, build context) may expand to; 0 = the data root's free space less a reserve. */
  maxUploadExpandedBytes: number;
  /**
   * Endpoint overrides, `domain=url` (e.g. `docker.io=http://127.0.0.1:5000`): where pulls and
   * pushes for that registry go instead of its own host, like containerd's hosts.toml `server`.
   * The test suite points docker.io at a closed loopback port so nothing reaches the internet.
   */
  registryHosts: Record<string, string>;
  /** `host:port` where the gateway serves Prometheus metrics (dockerd's `--metrics-addr`); off when undefined. */
  metricsAddr: string | undefined;
  /** `host:port` where `images` serves the OCI Distribution API; off when undefined. */
  registryListen: string | undefined;
  defaultAddressPools: AddressPool[];
  bip: string | undefined;
  /** Name of the default bridge interface (dockerd's `bridge`, `-b`). */
  bridge: string;
  mtu: number;
  iptables: boolean;
  userlandProxy: boolean;
  labels: string[];
  shimPath: string | undefined;
  /** dockerd's `userns-remap` as given (`default`, `user[:group]`), '' when off; see resolveUsernsRemap. */
  usernsRemap: string;
  /** The conmon-based monitor's artifact; found beside the supervisor's when unset. */
  monitorPath: string | undefined;
  /** Which monitor new containers get (those it cannot serve keep the Node shim). */
  defaultMonitor: 'shim' | 'conmon';
  /** The file this came from, if any. */
  configFile: string | undefined;
}

/** A daemon.json document: the keys Berth accepts, each with how to check it. */
type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const int: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const strList: Check = (v) => Array.isArray(v) && v.every((x) => typeof x === 'string');
const strMap: Check = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const runtimes: Check = (v) =>
  typeof v === 'object' && v !== null && Object.values(v).every((r) => typeof r === 'object' && r !== null && str((r as RuntimeConfig).path));
const pools: Check = (v) =>
  Array.isArray(v) && v.every((p) => typeof p === 'object' && p !== null && str((p as AddressPool).base) && int((p as AddressPool).size));
const services: Check = (v) =>
  typeof v === 'object' && v !== null &&
  Object.entries(v).every(([k, s]) => {
    if (!(SERVICE_NAMES as readonly string[]).includes(k) || typeof s !== 'object' || s === null) return false;
    const { address, managed, 'on-demand': onDemand, 'idle-exit-seconds': idleExit, ...rest } = s as {
      address?: unknown;
      managed?: unknown;
      'on-demand'?: unknown;
      'idle-exit-seconds'?: unknown;
    };
    // A service left to someone else needs an address to be found at.
    if (managed === false && address === undefined) return false;
    return (
      (address === undefined || str(address)) &&
      (managed === undefined || bool(managed)) &&
      (onDemand === undefined || bool(onDemand)) &&
      (idleExit === undefined || int(idleExit)) &&
      Object.keys(rest).length === 0
    );
  });

const KEYS: Record<string, Check> = {
  'data-root': str,
  'exec-root': str,
  hosts: strList,
  'storage-driver': str,
  dns: strList,
  'dns-search': strList,
  'dns-opts': strList,
  'log-driver': str,
  'log-opts': strMap,
  'default-runtime': str,
  runtimes,
  'log-level': (v) => str(v) && ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(v as string),
  'log-format': (v) => v === 'json' || v === 'console' || v === 'text',
  debug: bool,
  redis: str,
  services,
  'insecure-registries': strList,
  'registry-mirrors': strList,
  'max-concurrent-downloads': int,
  'max-concurrent-uploads': int,
  'metrics-addr': (v) => str(v) && /^[^\s:]*:\d{1,5}$/.test(v as string),
  'max-upload-expanded-bytes': int,
  'registry-hosts': (v) => strList(v) && (v as string[]).every((h) => /^[^=\s]+=https?:\/\/\S+$/.test(h)),
  'registry-listen': (v) => typeof v === 'string' && /^[^\s:]*:\d{1,5}$/.test(v),
  'default-address-pools': pools,
  bip: str,
  bridge: (v) => str(v) && /^[A-Za-z0-9_.-]{1,15}$/.test(v as string),
  mtu: int,
  iptables: bool,
  'userland-proxy': bool,
  labels: strList,
  'shim-path': str,
  'userns-remap': str,
  'monitor-path': str,
  'default-monitor': (v) => v === 'shim' || v === 'conmon',
  'live-restore': bool,
  ...Object.fromEntries(Object.entries(TLS_KEYS).map(([k, t]) => [k, t === 'bool' ? bool : str])),
};

export type DaemonJson = Record<string, unknown>;

/** A document that passed validateDaemonJson. */
interface ValidatedDoc {
  'data-root'?: string;
  'exec-root'?: string;
  hosts?: string[];
  'storage-driver'?: string;
  dns?: string[];
  'dns-search'?: string[];
  'dns-opts'?: string[];
  'log-driver'?: string;
  'log-opts'?: Record<string, string>;
  'default-runtime'?: string;
  runtimes?: Record<string, RuntimeConfig>;
  'log-level'?: string;
  'log-format'?: string;
  debug?: boolean;
  redis?: string;
  services?: Partial<Record<ServiceName, { address?: string; managed?: boolean; 'on-demand'?: boolean; 'idle-exit-seconds'?: number }>>;
  'insecure-registries'?: string[];
  'registry-mirrors'?: string[];
  'max-concurrent-downloads'?: number;
  'max-concurrent-uploads'?: number;
  'max-upload-expanded-bytes'?: number;
  'registry-listen'?: string;
  'registry-hosts'?: string[];
  'metrics-addr'?: string;
  'default-address-pools'?: AddressPool[];
  bip?: string;
  bridge?: string;
  mtu?: number;
  iptables?: boolean;
  'userland-proxy'?: boolean;
  labels?: string[];
  'shim-path'?: string;
  'userns-remap'?: string;
  'monitor-path'?: string;
  'default-monitor'?: 'shim' | 'conmon';
}

export function readDaemonJson(file: string): DaemonJson {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidArgument(`unable to configure the Berth daemon with file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`unable to configure the Berth daemon with file ${file}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw invalidArgument(`unable to configure the Berth daemon with file ${file}: the top level must be a JSON object`);
  }
  return doc as DaemonJson;
}

/** Rejects unknown keys and ill-typed values, naming all of them at once, like dockerd. */
export function validateDaemonJson(doc: DaemonJson): void {
  const unknown = Object.keys(doc).filter((k) => !(k in KEYS)).sort();
  if (unknown.length > 0) {
    throw invalidArgument(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  }
  const bad = Object.entries(doc).filter(([k, v]) => !KEYS[k]!(v)).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  if (bad.length > 0) throw invalidArgument(`invalid value for configuration directives: ${bad.join('; ')}`);
}

function pathFrom(v: unknown, fallback: string): string {
  const p = typeof v === 'string' && v !== '' ? v : fallback;
  return isAbsolute(p) ? p : resolve(p);
}

/** Resolves a validated daemon.json document into a full configuration with defaults. */
export function resolveConfig(doc: DaemonJson, configFile?: string): BerthConfig {
  validateDaemonJson(doc);
  const d = doc as ValidatedDoc;
  const execRoot = pathFrom(d['exec-root'], DEFAULT_EXEC_ROOT);
  const dataRoot = pathFrom(d['data-root'], DEFAULT_DATA_ROOT);
  const svc = d.services ?? {};
  const services = Object.fromEntries(
    SERVICE_NAMES.map((name) => [name, svc[name]?.address ?? `unix://${join(execRoot, `${name}.sock`)}`]),
  ) as Record<ServiceName, string>;
  const redis = d.redis;
  const logFormat = d['log-format'] === 'console' ? 'console' : 'json';
  const hosts = d.hosts?.length ? d.hosts : [`unix://${join(execRoot, 'docker.sock')}`];
  return {
    dataRoot,
    execRoot,
    hosts,
    storageDriver: d['storage-driver'] ?? DEFAULT_STORAGE_DRIVER,
    dns: d.dns ?? [],
    dnsSearch: d['dns-search'] ?? [],
    dnsOpts: d['dns-opts'] ?? [],
    logDriver: d['log-driver'] ?? DEFAULT_LOG_DRIVER,
    logOpts: d['log-opts'] ?? {},
    defaultRuntime: d['default-runtime'] ?? DEFAULT_RUNTIME,
    runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' }, ...d.runtimes },
    logLevel: d.debug ? 'debug' : (d['log-level'] ?? 'info'),
    logFormat,
    debug: d.debug ?? false,
    redis: redis ?? `unix://${join(execRoot, 'redis.sock')}`,
    privateRedis: redis === undefined,
    services,
    externalServices: SERVICE_NAMES.filter((name) => svc[name]?.managed === false),
    onDemandServices: SERVICE_NAMES.filter((name) => svc[name]?.managed !== false && (svc[name]?.['on-demand'] ?? ON_DEMAND_BY_DEFAULT.includes(name))),
    idleExitMs: Object.fromEntries(SERVICE_NAMES.map((name) => [name, (svc[name]?.['idle-exit-seconds'] ?? DEFAULT_IDLE_EXIT_SECONDS) * 1000])),
    insecureRegistries: d['insecure-registries'] ?? [],
    registryMirrors: d['registry-mirrors'] ?? [],
    maxConcurrentDownloads: d['max-concurrent-downloads'] ?? DEFAULT_MAX_CONCURRENT_DOWNLOADS,
    maxConcurrentUploads: d['max-concurrent-uploads'] ?? DEFAULT_MAX_CONCURRENT_UPLOADS,
    maxUploadExpandedBytes: d['max-upload-expanded-bytes'] ?? DEFAULT_MAX_UPLOAD_EXPANDED_BYTES,
    registryListen: d['registry-listen'],
    metricsAddr: d['metrics-addr'],
    registryHosts: Object.fromEntries((d['registry-hosts'] ?? []).map((h) => [h.slice(0, h.indexOf('=')), h.slice(h.indexOf('=') + 1).replace(/\/+$/, '')])),
    defaultAddressPools: d['default-address-pools'] ?? [],
    bip: d.bip,
    bridge: d.bridge ?? defaultBridgeFor(dataRoot),
    mtu: d.mtu ?? 1500,
    iptables: d.iptables ?? true,
    userlandProxy: d['userland-proxy'] ?? true,
    labels: d.labels ?? [],
    shimPath: d['shim-path'],
    usernsRemap: d['userns-remap'] ?? '',
    monitorPath: d['monitor-path'],
    defaultMonitor: d['default-monitor'] ?? 'conmon',
    apiTls: resolveApiTls(doc, hosts),
    socketGroup: (doc.group as string | undefined) ?? DEFAULT_SOCKET_GROUP,
    configFile,
  };
}

/**
 * The default bridge's name when none is given: `berth0` for the default data root, and one of
 * its own for any other (`berth-<hash of the data root>`), since two instances on one bridge
 * would hand out the same addresses and rewrite each other's NAT table.
 */
export function defaultBridgeFor(dataRoot: string): string {
  if (dataRoot === DEFAULT_DATA_ROOT) return DEFAULT_BRIDGE;
  return `berth-${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`;
}

/** Each service keeps its own state under `<data-root>/<service>`; no other service reads it. */
export function serviceDataDir(cfg: BerthConfig, service: string): string {
  return join(cfg.dataRoot, service);
}

/** The gRPC address of a service that is not in SERVICE_NAMES' long-running set (the gateway's admin socket is). */
export function socketPath(address: string): string {
  if (!address.startsWith('unix://')) throw invalidArgument(`only unix:// addresses are supported: ${address}`);
  return address.slice('unix://'.length);
}
