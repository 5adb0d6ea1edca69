import { readCgroupStats, readNetDev } from '@berth/cgroups';
import { cgroupsPathFor } from '@berth/oci-spec';
import type { ContainerRecord } from './model';
import { ZERO_TIME } from './model';

const ZERO_CPU = {
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
};

const EMPTY_BLKIO = {
  io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
  io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
};

/**
 * One sample of the Engine API's ContainerStats for the container, read from its cgroup and,
 * for its own network namespace, from /proc/<pid>/net/dev. `precpu_stats` is left zero: the
 * gateway, which streams, keeps the previous sample. Not running: dockerd's zero sample.
 */
export function statsSample(rec: ContainerRecord): { running: boolean; stats: Record<string, unknown> } {
  const base = { name: `/${rec.name}`, id: rec.id, num_procs: 0, storage_stats: {}, preread: ZERO_TIME, precpu_stats: ZERO_CPU };
  if (!rec.state.Running || rec.state.Pid <= 0) {
    return { running: false, stats: { ...base, read: ZERO_TIME, pids_stats: {}, blkio_stats: EMPTY_BLKIO, cpu_stats: ZERO_CPU, memory_stats: {} } };
  }
  const cg = readCgroupStats(cgroupsPathFor(rec.id, rec.hostConfig.CgroupParent as string | undefined));
  const ownNetns = rec.hostConfig.NetworkMode !== 'host';
  const stats: Record<string, unknown> = { ...base, read: new Date().toISOString(), ...cg };
  if (ownNetns) stats.networks = readNetDev(rec.state.Pid);
  return { running: true, stats };
}
