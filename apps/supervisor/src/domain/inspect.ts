import { inspectHostConfig } from './host-config-defaults';
import { portMap } from './network-attach';
import type { ContainerRecord } from './model';
import { mountJson } from './mounts';

/** Docker's human status column: "Up 5 seconds", "Exited (3) 2 minutes ago", "Created". */
export function humanStatus(rec: ContainerRecord, nowMs = Date.now()): string {
  const s = rec.state;
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${ago(nowMs - Date.parse(s.FinishedAt))} ago`;
  if (s.Running) return `Up ${ago(nowMs - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : ''}`;
  if (s.Dead) return 'Dead';
  if (s.StartedAt === '0001-01-01T00:00:00Z') return 'Created';
  return `Exited (${s.ExitCode}) ${ago(nowMs - Date.parse(s.FinishedAt))} ago`;
}

/** Docker's units.HumanDuration, in the same words. */
export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

function networkSettings(rec: ContainerRecord) {
  const atts = rec.networks ?? [];
  const def = atts.find((a) => a.networkName === 'bridge');
  const mode = rec.hostConfig.NetworkMode === 'default' ? 'none' : (rec.hostConfig.NetworkMode ?? 'none');
  const empty = {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: '', EndpointID: '', Gateway: '',
    IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
  };
  const networks: Record<string, unknown> = {};
  for (const a of atts) {
    const userDefined = a.networkName !== 'bridge';
    networks[a.networkName] = {
      ...empty,
      IPAMConfig: a.requestedIp ? { IPv4Address: a.requestedIp } : null,
      Aliases: userDefined ? a.aliases : null,
      MacAddress: a.macAddress,
      NetworkID: a.networkId,
      EndpointID: a.endpointId,
      Gateway: a.gateway,
      IPAddress: a.ipv4Address,
      IPPrefixLen: a.prefixLen,
      DNSNames: userDefined ? [rec.name, ...a.aliases, rec.id.slice(0, 12)] : null,
    };
  }
  if (atts.length === 0 && !mode.startsWith('container:')) networks[mode] = empty;
  return {
    Bridge: '',
    SandboxID: atts.length ? rec.id : '',
    SandboxKey: atts[0]?.netnsPath ?? '',
    Ports: portMap(rec.config, atts),
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    // As in Docker, the top-level address fields describe the default bridge only.
    EndpointID: def?.endpointId ?? '',
    Gateway: def?.gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: def?.ipv4Address ?? '',
    IPPrefixLen: def?.prefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: def?.macAddress ?? '',
    Networks: networks,
  };
}

/** ContainerSummary.Ports, as `docker ps` shows them. */
function summaryPorts(rec: ContainerRecord) {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = (rec.networks ?? []).flatMap((a) => a.ports).map((p) => ({
    IP: p.hostIp || '0.0.0.0',
    PrivatePort: p.containerPort,
    PublicPort: p.hostPort,
    Type: p.protocol,
  }));
  for (const k of Object.keys(rec.config.ExposedPorts ?? {})) {
    const [port, proto = 'tcp'] = k.split('/');
    if (!out.some((p) => p.PrivatePort === Number(port) && p.Type === proto)) out.push({ PrivatePort: Number(port), Type: proto });
  }
  return out;
}

/** The Engine API's ContainerInspectResponse. */
export function inspect(rec: ContainerRecord): Record<string, unknown> {
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: rec.state,
    Image: rec.imageId,
    ResolvConfPath: rec.resolvConfPath,
    HostnamePath: rec.hostnamePath,
    HostsPath: rec.hostsPath,
    // As dockerd: only the json-file driver's file is named (none keeps no file; the path of another driver is not an API).
    LogPath: (rec.hostConfig.LogConfig?.Type || 'json-file') === 'json-file' ? rec.logPath : '',
    Name: `/${rec.name}`,
    RestartCount: rec.restartCount,
    Driver: rec.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: inspectHostConfig(rec.hostConfig),
    GraphDriver: { Name: rec.driver, Data: null },
    Mounts: (rec.mounts ?? []).map(mountJson),
    Config: { OnBuild: null, ...rec.config },
    NetworkSettings: networkSettings(rec),
  };
}

/** The Engine API's ContainerSummary (`docker ps`). */
export function summary(rec: ContainerRecord): Record<string, unknown> {
  const command = [rec.path, ...rec.args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return {
    Id: rec.id,
    Names: [`/${rec.name}`],
    Image: rec.image,
    ImageID: rec.imageId,
    Command: command,
    Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: summaryPorts(rec),
    Labels: rec.config.Labels,
    State: rec.state.Status,
    Status: humanStatus(rec),
    HostConfig: { NetworkMode: rec.hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: networkSettings(rec).Networks },
    Mounts: (rec.mounts ?? []).map(mountJson),
  };
}
