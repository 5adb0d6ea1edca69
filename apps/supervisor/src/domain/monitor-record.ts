import { existsSync } from 'node:fs';
import type { shimV1, types } from '@berth/proto';
import { unary } from '@berth/clients';
import type { Containers } from './containers';
import type { ContainerRecord, MonitorRef } from './model';

/** The shim contract this supervisor speaks; a monitor must serve this major version. */
export const SHIM_CONTRACT = 'berth.shim.v1';

/** Records written before monitors were recorded ran the shim; which build is not known. */
export const UNKNOWN_MONITOR: MonitorRef = { name: 'shim', version: 'unknown', path: '' };

export function monitorOf(rec: ContainerRecord): MonitorRef {
  return rec.monitor ?? UNKNOWN_MONITOR;
}

/**
 * The artifact a container's monitor is started from: the one it was first started from while
 * that still exists (install scripts never remove a monitor version), so a container keeps its
 * monitor version for life; otherwise the current one.
 */
export function monitorPathFor(rec: ContainerRecord, current: () => string): string {
  const kept = rec.monitor?.path;
  return kept && existsSync(kept) ? kept : current();
}

export function monitorInfo(shim: shimV1.ShimClient): Promise<types.InfoResponse> {
  return unary('shim', shim.info.bind(shim), {}, { deadlineMs: 5_000 });
}

/**
 * Why a monitor cannot be adopted, or undefined when it serves the contract this supervisor
 * speaks. Minor changes keep the package name (v1 only grows), so the package is the version.
 */
export function contractMismatch(info: types.InfoResponse): string | undefined {
  if (info.contracts.includes(SHIM_CONTRACT)) return undefined;
  const served = info.contracts.filter((c) => c.startsWith('berth.shim.'));
  return `monitor ${info.name || 'shim'} ${info.version || '(no version)'} serves ${served.length ? served.join(', ') : 'no shim contract'}; this supervisor speaks ${SHIM_CONTRACT}`;
}

/** How many containers use each monitor name and version, as "name version" -> count. */
export function monitorCounts(recs: ContainerRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of recs) {
    const m = monitorOf(r);
    const key = `${m.name} ${m.version}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Keeps in the record which monitor now serves the container (a first start, or a start after its monitor was gone). */
export function recordMonitor(d: { containers: Containers }, rec: ContainerRecord, monitor: MonitorRef): void {
  rec.monitor = monitor;
  const cur = d.containers.byId(rec.id);
  if (!cur) return;
  const m = cur.monitor;
  if (m && m.name === monitor.name && m.version === monitor.version && m.path === monitor.path) return;
  cur.monitor = monitor;
  d.containers.save(cur);
}
