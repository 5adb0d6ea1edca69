import { oomKilledSince } from '@berth/cgroups';
import { cgroupsPathFor } from '@berth/oci-spec';
import type { ContainerRecord } from './model';

/**
 * Whether the run that just ended was ended by the OOM killer. An OOM kill is a SIGKILL (137),
 * and the kernel's log says which cgroup it came from; the log is read at exit handling, which
 * also runs at reconcile, so a kill while the supervisor was down is found too.
 */
export function endedByOom(rec: ContainerRecord, exitCode: number): boolean {
  if (exitCode !== 137) return false;
  const started = Date.parse(rec.state.StartedAt);
  return oomKilledSince(cgroupsPathFor(rec.id, rec.hostConfig.CgroupParent as string | undefined), Number.isFinite(started) ? started : 0);
}
