import { invalidArgument } from '@berth/errors';
import { validateJsonFileOpts } from './json-file-opts';
import type { HostConfig } from './model';

/** The log drivers this engine has; dockerd refuses any other name at create. */
export const LOG_DRIVERS = ['json-file', 'none'] as const;
export const DEFAULT_LOG_DRIVER = 'json-file';

/**
 * dockerd's HostConfig as inspect shows it for a container created with none of these set:
 * every field without `omitempty` in moby's struct, with its zero value. Clients (docker-py,
 * dockerode) send a few fields and read back many.
 */
export const ZERO_HOST_CONFIG: Record<string, unknown> = {
  Binds: null, ContainerIDFile: '', LogConfig: { Type: DEFAULT_LOG_DRIVER, Config: {} }, NetworkMode: 'default', PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0],
  CapAdd: null, CapDrop: null, CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null,
  IpcMode: 'private', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false,
  ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 67108864, Runtime: 'runc', Isolation: '',
  CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [],
  BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null,
  MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null, OomKillDisable: null, PidsLimit: null, Ulimits: null, CpuCount: 0,
  CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null, Init: null,
};

/** The HostConfig inspect shows: what was asked for over the zero values, the default log driver filled in. */
export function inspectHostConfig(hc: HostConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ZERO_HOST_CONFIG };
  for (const [k, v] of Object.entries(hc)) if (v !== undefined) out[k] = v;
  // Zero values the daemon replaces with its defaults at create, as dockerd's inspect shows them.
  if (!hc.ShmSize) out.ShmSize = ZERO_HOST_CONFIG.ShmSize;
  if (!out.IpcMode) out.IpcMode = ZERO_HOST_CONFIG.IpcMode;
  const log = hc.LogConfig;
  out.LogConfig = { Type: log?.Type || DEFAULT_LOG_DRIVER, Config: log?.Config ?? {} };
  return out;
}

/** Refuses a log driver this engine does not have, in dockerd's words, at create. */
export function validateLogConfig(hc: HostConfig): void {
  const type = hc.LogConfig?.Type;
  if (type && !(LOG_DRIVERS as readonly string[]).includes(type)) throw invalidArgument(`logger: no log driver named '${type}' is registered`);
  if (type === 'none' && Object.keys(hc.LogConfig?.Config ?? {}).length) {
    throw invalidArgument(`unknown log opt '${Object.keys(hc.LogConfig!.Config!)[0]}' for none log driver`);
  }
  if (!type || type === 'json-file') validateJsonFileOpts(hc.LogConfig?.Config ?? {});
}

/** `--group-add`: numeric gids as given, names looked up in the image's /etc/group. */
export function groupAddGids(groupAdd: string[] | null | undefined, groupFile: string): number[] {
  const rows = groupFile.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  return (groupAdd ?? []).map((g) => {
    if (/^\d+$/.test(g)) return Number(g);
    const row = rows.find((r) => r[0] === g);
    if (!row) throw invalidArgument(`Unable to find group ${g}: no matching entries in group file`);
    return Number(row[2]);
  });
}
