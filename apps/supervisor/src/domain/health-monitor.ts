import { messageOf } from '@berth/errors';
import { newId } from '@berth/ids';
import { Execs } from './execs';
import { type HealthTimings, hasHealthcheck, healthTimings, probeArgv } from './health-config';
import { runProbe } from './health-probe';
import type { HealthWatch, LifecycleDeps } from './lifecycle-context';
import type { ShimPool } from './shim-pool';
import type { ContainerRecord, HealthState } from './model';

/** Docker keeps the last five results in State.Health.Log. */
const MAX_LOG = 5;

interface Watch {
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

/**
 * HEALTHCHECK: probes a running container every interval (from the end of one probe to the start
 * of the next, the first one interval after start), keeps State.Health in the record and
 * publishes health_status events when the status changes. The record is saved after every probe,
 * so a supervisor restart resumes the checks with the status it had.
 */
export class HealthMonitor implements HealthWatch {
  private readonly watches = new Map<string, Watch>();
  /** Builds a probe's process the way docker exec's is built (the container's user, env, cwd). */
  private readonly execs: Execs;

  constructor(private readonly ctx: { d: LifecycleDeps; shims: ShimPool }) {
    this.execs = new Execs(ctx.d.containers);
  }

  /** The container (re)started: status "starting", streak 0, the log kept (Docker's initHealthMonitor). */
  started(rec: ContainerRecord): void {
    this.stopped(rec.id);
    if (!hasHealthcheck(rec.config.Healthcheck)) return;
    rec.state.Health = { Status: 'starting', FailingStreak: 0, Log: rec.state.Health?.Log ?? [] };
    this.ctx.d.containers.save(rec);
    this.watch(rec.id);
  }

  /** After a supervisor restart, a running container's checks go on from the status it had. */
  resume(rec: ContainerRecord): void {
    if (!hasHealthcheck(rec.config.Healthcheck)) return;
    if (!rec.state.Health) {
      rec.state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      this.ctx.d.containers.save(rec);
    }
    this.watch(rec.id);
  }

  /** The container exited or is going away; State.Health stays as it was, as in Docker. */
  stopped(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    w.stopped = true;
    clearTimeout(w.timer);
    this.watches.delete(id);
  }

  close(): void {
    for (const id of [...this.watches.keys()]) this.stopped(id);
  }

  private watch(id: string): void {
    const rec = this.ctx.d.containers.byId(id);
    if (!rec || !hasHealthcheck(rec.config.Healthcheck)) return;
    const w: Watch = { stopped: false };
    this.watches.set(id, w);
    const t = healthTimings(rec.config.Healthcheck);
    const next = () => {
      if (w.stopped) return;
      w.timer = setTimeout(() => {
        this.probeOnce(id, t, w)
          .catch((err: unknown) => this.ctx.d.logger.warn({ id, err: messageOf(err) }, 'health check failed to run'))
          .finally(next);
      }, t.intervalMs);
    };
    next();
  }

  private async probeOnce(id: string, t: HealthTimings, w: Watch): Promise<void> {
    const { d } = this.ctx;
    const rec = d.containers.byId(id);
    if (!rec || !rec.state.Running || !rec.state.Health || !hasHealthcheck(rec.config.Healthcheck)) return;
    // A paused container cannot run a probe; its health waits until it is resumed.
    if (rec.state.Paused) return;
    const argv = probeArgv(rec.config.Healthcheck, rec.config.Shell);
    if (!argv) return;
    const execId = newId();
    const command = argv.join(' ');
    const proc = this.execs.process(
      { id: execId, containerId: id, config: { Cmd: argv, User: rec.config.User, WorkingDir: rec.config.WorkingDir }, started: true, running: true, exitCode: null, pid: 0 },
      rec,
    );
    d.event(`exec_create: ${command}`, rec, { execID: execId });
    const start = new Date();
    const r = await runProbe(this.ctx.shims.get(rec), execId, Buffer.from(JSON.stringify(proc)), t.timeoutMs, () =>
      d.event(`exec_start: ${command}`, rec, { execID: execId }),
    );
    d.event('exec_die', rec, { execID: execId, exitCode: String(r.exitCode) });
    if (w.stopped) return;
    this.record(id, t, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: r.exitCode, Output: r.output });
  }

  /** Docker's handleProbeResult: success resets the streak; failures in the start period do not count. */
  private record(id: string, t: HealthTimings, result: NonNullable<HealthState['Log']>[number]): void {
    const { d } = this.ctx;
    const rec = d.containers.byId(id);
    const h = rec?.state.Health;
    if (!rec || !h || !rec.state.Running) return;
    const before = h.Status;
    h.Log = [...(h.Log ?? []), result].slice(-MAX_LOG);
    if (result.ExitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else {
      const inStartPeriod = h.Status === 'starting' && Date.parse(result.Start) - Date.parse(rec.state.StartedAt) < t.startPeriodMs;
      if (!inStartPeriod) {
        h.FailingStreak++;
        if (h.FailingStreak >= t.retries) h.Status = 'unhealthy';
      }
    }
    d.containers.save(rec);
    if (h.Status !== before) d.event(`health_status: ${h.Status}`, rec);
  }
}
