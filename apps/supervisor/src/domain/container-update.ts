import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyResources } from '@berth/cgroups';
import { conflict, invalidArgument, messageOf } from '@berth/errors';
import { cgroupsPathFor, type Spec } from '@berth/oci-spec';
import { writeFileAtomic } from '@berth/store';
import type { LifecycleContext } from './lifecycle-context';
import type { HostConfig, RestartPolicy } from './model';
import { checkResourceTypes, liveResources, type ResourceFields, specResources, verifyResources } from './resources';
import { validateRestartPolicy } from './restart-policy';

type UpdateBody = ResourceFields & { RestartPolicy?: RestartPolicy };

function parseBody(json: Uint8Array): UpdateBody {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(json).toString('utf8') || '{}');
  } catch (err) {
    throw invalidArgument(`invalid JSON in request body: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidArgument('json: cannot unmarshal into Go value of type container.UpdateConfig');
  checkResourceTypes(body as Record<string, unknown>);
  const rp = (body as UpdateBody).RestartPolicy;
  if (rp !== undefined && rp !== null && (typeof rp !== 'object' || (rp.Name !== undefined && typeof rp.Name !== 'string'))) {
    throw invalidArgument('json: cannot unmarshal into Go struct field UpdateConfig.RestartPolicy of type container.RestartPolicy');
  }
  return body as UpdateBody;
}

const cannot = (id: string, msg: string) => conflict(`Cannot update container ${id}: ${msg}`);

/** dockerd's container.UpdateContainer: non-zero fields replace the container's, with its conflict checks. */
function merge(id: string, hc: HostConfig & ResourceFields, u: UpdateBody): void {
  if ((u.NanoCpus ?? 0) > 0 && (hc.CpuPeriod ?? 0) > 0) throw cannot(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if ((u.NanoCpus ?? 0) > 0 && (hc.CpuQuota ?? 0) > 0) throw cannot(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((u.CpuPeriod ?? 0) > 0 && (hc.NanoCpus ?? 0) > 0) throw cannot(id, 'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if ((u.CpuQuota ?? 0) > 0 && (hc.NanoCpus ?? 0) > 0) throw cannot(id, 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if ((u.Memory ?? 0) !== 0 && u.Memory! > (hc.MemorySwap ?? 0) && (u.MemorySwap ?? 0) === 0) {
    throw cannot(id, 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  const keys: (keyof ResourceFields)[] = ['BlkioWeight', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'NanoCpus', 'CpusetCpus', 'CpusetMems', 'Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'];
  for (const k of keys) {
    const v = u[k];
    if (v !== undefined && v !== null && v !== 0 && v !== '') (hc as Record<string, unknown>)[k] = v;
  }
  if (u.PidsLimit !== undefined && u.PidsLimit !== null) hc.PidsLimit = u.PidsLimit > 0 ? u.PidsLimit : 0;
  const swap = hc.MemorySwap ?? 0;
  if ((hc.Memory ?? 0) > 0 && swap > 0 && swap < hc.Memory!) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
}

/** The OCI resources of the merged HostConfig, for the bundle's spec, so later starts keep them. */
function rewriteSpec(bundle: string, hc: HostConfig & ResourceFields): void {
  const path = join(bundle, 'config.json');
  const spec = JSON.parse(readFileSync(path, 'utf8')) as Spec;
  const more = specResources(hc).resources ?? {};
  const res = spec.linux.resources;
  res.memory = { ...more.memory, ...((hc.Memory ?? 0) > 0 ? { limit: hc.Memory } : {}) };
  if (!(hc.Memory ?? 0)) delete res.memory.swap;
  const cpu = { ...more.cpu, ...(hc.CpuShares ? { shares: hc.CpuShares } : {}) };
  if ((hc.NanoCpus ?? 0) > 0) Object.assign(cpu, { period: 100_000, quota: Math.round((hc.NanoCpus! / 1e9) * 100_000) });
  res.cpu = cpu;
  if ((hc.PidsLimit ?? 0) > 0) res.pids = { limit: hc.PidsLimit! };
  else delete res.pids;
  if (more.blockIO) res.blockIO = { ...res.blockIO, ...more.blockIO };
  writeFileAtomic(path, JSON.stringify(spec, null, 2));
}

/** `docker update`: resources and restart policy, into the record, the spec and a running container's cgroup. */
export function updateContainer(ctx: LifecycleContext, ref: string, bodyJson: Uint8Array): { warnings: string[] } {
  const { containers } = ctx.d;
  const rec = containers.get(ref);
  const body = parseBody(bodyJson);
  const warnings = verifyResources(body, true);
  const hc = structuredClone(rec.hostConfig) as HostConfig & ResourceFields;
  if (body.RestartPolicy?.Name) {
    if (hc.AutoRemove && body.RestartPolicy.Name !== 'no') throw cannot(rec.id, 'Restart policy cannot be updated because AutoRemove is enabled for the container');
    validateRestartPolicy(body.RestartPolicy, false);
    hc.RestartPolicy = { Name: body.RestartPolicy.Name, MaximumRetryCount: body.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  merge(rec.id, hc, body);
  if (rec.state.Status === 'removing' || rec.state.Dead) throw conflict(`Cannot update container ${rec.id}: container is marked for removal and cannot be "update"`);
  if (rec.state.Running) {
    try {
      applyResources(cgroupsPathFor(rec.id, hc.CgroupParent), liveResources(hc));
    } catch (err) {
      // A partly applied change is undone by writing the old limits back.
      try {
        applyResources(cgroupsPathFor(rec.id, rec.hostConfig.CgroupParent as string | undefined), liveResources(rec.hostConfig));
      } catch {
        // the cgroup went away with the container
      }
      throw invalidArgument(`Cannot update container ${rec.id}: ${messageOf(err)}`);
    }
  }
  rewriteSpec(rec.bundle, hc);
  rec.hostConfig = hc;
  containers.save(rec);
  ctx.d.event('update', rec);
  return { warnings };
}
