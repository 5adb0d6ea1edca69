import type { HealthConfig } from './health-config';
import type { MountPoint } from './mounts';

/** What a container got from netproxy, kept in its record for inspect, ps and port. */
export interface Attachment {
  endpointId: string;
  networkId: string;
  networkName: string;
  netnsPath: string;
  ipv4Address: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  bridge: string;
  ports: { containerPort: number; protocol: string; hostIp: string; hostPort: number }[];
  aliases: string[];
  dnsServer: string;
  /** What the user asked for (--ip), shown as IPAMConfig. */
  requestedIp?: string;
}

/** Docker's container config (Engine API ContainerConfig), the fields Berth uses. */
export interface DockerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Image: string;
  Volumes?: Record<string, object> | null;
  WorkingDir: string;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
  /** The shell CMD-SHELL health checks run with (default ["/bin/sh", "-c"]). */
  Shell?: string[];
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** Docker's HostConfig, the fields Berth acts on; the rest is kept and shown as given. */
export interface HostConfig {
  NetworkMode?: string;
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  ReadonlyRootfs?: boolean;
  Init?: boolean | null;
  ShmSize?: number;
  Memory?: number;
  NanoCpus?: number;
  CpuShares?: number;
  PidsLimit?: number | null;
  Sysctls?: Record<string, string> | null;
  SecurityOpt?: string[] | null;
  LogConfig?: LogConfig;
  GroupAdd?: string[] | null;
  ConsoleSize?: [number, number] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  ExtraHosts?: string[] | null;
  Runtime?: string;
  [key: string]: unknown;
}

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface State {
  Status: Status;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present once a container with a health check has started. */
  Health?: HealthState;
}

/** Docker's State.Health. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  /** The last results, oldest first. */
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Which monitor implementation and build serves a container, and the artifact it runs from. */
export interface MonitorRef {
  name: string;
  version: string;
  path: string;
}

/** A container as the supervisor keeps it, one JSON file per container. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  /** The image as the user named it, and the ID it resolved to. */
  image: string;
  imageId: string;
  config: DockerConfig;
  hostConfig: HostConfig;
  networkingConfig: unknown;
  /** Its endpoints on bridge networks, from netproxy; absent for host, none, container: and old records. */
  networks?: Attachment[];
  /** With --network container:<ref>, the container whose namespace it joins. */
  joinedContainer?: string;
  state: State;
  restartCount: number;
  /** Set by `docker stop`/`kill` so restart policies know the stop was asked for. */
  manuallyStopped: boolean;
  path: string;
  args: string[];
  /** Snapshot key of the rootfs and the image's top chain ID. */
  rootfsKey: string;
  bundle: string;
  shimSocket: string;
  /** The monitor (shim) serving it: set when its monitor is first started, kept for life; absent in old records. */
  monitor?: MonitorRef;
  /**
   * The host directory bound on its /dev/shm when another container may share it: its own tmpfs
   * for `--ipc shareable`, the host's for `host`, the donor's for `container:`; absent when private.
   */
  shmPath?: string;
  logPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  hostsPath: string;
  driver: string;
  /** Volumes, binds and tmpfs mounts, as resolved at create. */
  mounts?: MountPoint[];
  /** Set with the "removing" state when the removal also takes anonymous volumes (rm -v, --rm). */
  removeVolumes?: boolean;
}
