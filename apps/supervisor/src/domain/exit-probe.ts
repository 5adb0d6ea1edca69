import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { unary } from '@berth/clients';
import { isUnavailable } from '@berth/errors';
import type { shimV1 } from '@berth/proto';
import { socketAnswers } from '../clients/shim-client';
import type { LifecycleContext } from './lifecycle-context';
import type { ContainerRecord } from './model';

/** How often a running container whose monitor may be gone is looked at. */
export const PROBE_MS = 1_000;

export interface Exit {
  exitCode: number;
  exitedUnixMs: number;
  error: string;
}

/** The bundle's exit record of the current run (one older than the run's start is a past run's). */
export function readExitRecord(rec: ContainerRecord): { exitCode: number; exitedUnixMs: number } | undefined {
  try {
    const e = JSON.parse(readFileSync(join(rec.bundle, 'exit.json'), 'utf8')) as { exitCode: number; exitedUnixMs: number };
    return e.exitedUnixMs >= Date.parse(rec.state.StartedAt) - 1_000 ? e : undefined;
  } catch {
    return undefined;
  }
}

/** The container's cgroup (v1 or v2 path) as its init process sees it, when `pid` is that init. */
function cgroupOf(pid: number, id: string): string | undefined {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    // A recycled pid is some other process: the container's cgroup path names its id.
    const line = lines.find((l) => l.startsWith('0::') && l.includes(id)) ?? lines.find((l) => l.includes(id));
    return line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  } catch {
    return undefined;
  }
}

export function containerAlive(rec: ContainerRecord): boolean {
  if (rec.state.Pid <= 0) return false;
  try {
    // A zombie has exited: its parent (the runtime) has not reaped it yet.
    if (/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${rec.state.Pid}/stat`, 'utf8'))) return false;
  } catch {
    return false;
  }
  return cgroupOf(rec.state.Pid, rec.id) !== undefined;
}

/**
 * Signals a container straight through the kernel, for when its monitor does not answer: its
 * init, or with `all` every process of its cgroup.
 */
export function signalDirect(rec: ContainerRecord, signal: number, all: boolean): void {
  const pids = new Set<number>([rec.state.Pid]);
  const cg = all ? cgroupOf(rec.state.Pid, rec.id) : undefined;
  if (cg) {
    for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory']) {
      try {
        for (const p of readFileSync(join(base, cg, 'cgroup.procs'), 'utf8').split('\n')) if (Number(p) > 0) pids.add(Number(p));
        break;
      } catch {
        // not this hierarchy
      }
    }
  }
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** A monitor that answers again is asked for the exit again at most this often. */
const REASK_MS = 10_000;
/** A container gone without an exit record, while a monitor answers: the monitor's time to record the exit it saw. */
const RECORD_GRACE_MS = 5_000;

/**
 * Resolves with the container's exit. Asks the monitor (Wait) and meanwhile probes every second:
 * when the monitor does not answer, the exit record and the kernel decide. A container that
 * still runs without its monitor stays running (it is), until its process is gone. A monitor
 * started again after a crash (conmon's finds the exit on disk) is asked again, and while one
 * answers, a container gone without a record waits a few seconds for the record it writes: the
 * exit code is the monitor's, not a guess. `signalled` is the signal Berth sent straight to it,
 * which then gives the exit code (the runtime that knew it is gone too).
 */
export function waitForExit(rec: ContainerRecord, shim: shimV1.ShimClient, signalled: () => number | undefined): Promise<Exit> {
  return new Promise((resolve) => {
    let done = false;
    let waitFailed = false;
    let probing = false;
    let askedAt = 0;
    let goneSince = 0;
    let call: ReturnType<shimV1.ShimClient['wait']> | undefined;
    const finish = (e: Exit) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      call?.cancel();
      resolve(e);
    };
    const ask = () => {
      waitFailed = false;
      askedAt = Date.now();
      call = shim.wait({}, new Metadata(), { deadline: Date.now() + 365 * 24 * 3600_000 }, (err, res) => {
        if (!err) finish({ exitCode: res.exitCode, exitedUnixMs: Number(res.exitedUnixMs), error: '' });
        else waitFailed = true;
      });
    };
    ask();
    const probe = async () => {
      if (done || probing) return;
      probing = true;
      try {
        const answers = await socketAnswers(rec.shimSocket);
        if (!waitFailed && answers) return;
        if (waitFailed && answers && Date.now() - askedAt > REASK_MS) ask();
        const exit = readExitRecord(rec);
        if (exit) return finish({ ...exit, error: '' });
        if (containerAlive(rec)) {
          goneSince = 0;
          return;
        }
        goneSince ||= Date.now();
        if (answers && Date.now() - goneSince < RECORD_GRACE_MS) return;
        const sig = signalled();
        finish({ exitCode: sig ? 128 + sig : 255, exitedUnixMs: Date.now(), error: sig ? '' : 'container monitor lost: exit status unknown' });
      } finally {
        probing = false;
      }
    };
    const timer = setInterval(() => void probe(), PROBE_MS);
  });
}

/**
 * Signals through the container's shim; a shim that does not answer is bypassed (the kernel
 * still takes signals), and the signal is remembered as the likely cause of the exit.
 */
export async function signalContainer(ctx: LifecycleContext, rec: ContainerRecord, signal: number, all: boolean): Promise<void> {
  const shim = ctx.shims.get(rec);
  try {
    await unary('shim', shim.kill.bind(shim), { signal, all }, { deadlineMs: 5_000, idempotent: false });
  } catch (err) {
    if (!isUnavailable(err) && (await socketAnswers(rec.shimSocket))) throw err;
    if (!containerAlive(rec)) return;
    ctx.d.logger.warn({ id: rec.id, signal }, 'shim does not answer: signalling the container directly');
    ctx.signalledDirect.set(rec.id, signal);
    signalDirect(rec, signal, all);
  }
}
