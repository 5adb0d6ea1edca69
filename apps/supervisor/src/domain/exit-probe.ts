import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { unary } from '@berth/clients';
import { isDeadlineExceeded, isFailedPrecondition, isUnavailable } from '@berth/errors';
import type { shimV1 } from '@berth/proto';
import { socketAnswers } from '@berth/grpc';
import { containerAlive, signalDirect } from './kernel-direct';
import type { LifecycleContext } from './lifecycle-context';
import type { ContainerRecord } from './model';

/** How often a running container whose monitor may be gone is looked at. */
export const PROBE_MS = 1_000;

export interface Exit {
  exitCode: number;
  exitedUnixMs: number;
  error: string;
}

/** An exit of the current run: one older than the run's start is a past run's (a monitor that lost this run's may still hold it). */
export function ofThisRun(rec: ContainerRecord, exitedUnixMs: number): boolean {
  return exitedUnixMs >= Date.parse(rec.state.StartedAt) - 1_000;
}

/** The bundle's exit record of the current run. */
export function readExitRecord(rec: ContainerRecord): { exitCode: number; exitedUnixMs: number } | undefined {
  try {
    const e = JSON.parse(readFileSync(join(rec.bundle, 'exit.json'), 'utf8')) as { exitCode: number; exitedUnixMs: number };
    return ofThisRun(rec, e.exitedUnixMs) ? e : undefined;
  } catch {
    return undefined;
  }
}

/** A monitor that answers again is asked for the exit again at most this often. */
const REASK_MS = 10_000;
/** A container gone without an exit record, while a monitor answers: the monitor's time to record the exit it saw. */
const RECORD_GRACE_MS = 5_000;

/**
 * Resolves with the container's exit. Asks the monitor (Wait) and meanwhile probes every second:
 * when the monitor does not answer (gone, or hung past a grace once the container is gone), the
 * exit record and the kernel decide. A container that
 * still runs without its monitor stays running (it is), until its process is gone. A monitor
 * started again after a crash (conmon's finds the exit on disk) is asked again, and while one
 * answers, a container gone without a record waits a few seconds for the record it writes: the
 * exit code is the monitor's, not a guess. `signalled` is the signal Berth sent straight to it,
 * which then gives the exit code (the runtime that knew it is gone too).
 */
export function waitForExit(rec: ContainerRecord, shim: () => shimV1.ShimClient, signalled: () => number | undefined): Promise<Exit> {
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
      try {
        // The pool's client of now: one it closed when it started the monitor again throws.
        call = shim().wait({}, new Metadata(), { deadline: Date.now() + 365 * 24 * 3600_000 }, (err, res) => {
          // A monitor that lost this run (its exit happened while it was down, the record gone) may
          // answer with the exit of the run before: that is no answer.
          if (!err && ofThisRun(rec, Number(res.exitedUnixMs))) finish({ exitCode: res.exitCode, exitedUnixMs: Number(res.exitedUnixMs), error: '' });
          else waitFailed = true;
        });
      } catch {
        waitFailed = true;
      }
    };
    ask();
    const probe = async () => {
      if (done || probing) return;
      probing = true;
      try {
        const answers = await socketAnswers(rec.shimSocket);
        // An open Wait on a monitor that answers hears the exit first. The kernel is still asked:
        // a hung monitor accepts connections and never answers, and must not keep a dead
        // container "running" (the grace below is its time to answer).
        if (!waitFailed && answers && containerAlive(rec)) {
          goneSince = 0;
          return;
        }
        if (waitFailed && answers && Date.now() - askedAt > REASK_MS) ask();
        const exit = readExitRecord(rec);
        if (exit) return finish({ ...exit, error: '' });
        if (containerAlive(rec)) {
          goneSince = 0;
          return;
        }
        goneSince ||= Date.now();
        const sig = signalled();
        // A SIGKILL sent past its monitor ended it: 137, no record to wait for (another signal
        // may have been handled, and the monitor's record then has the true code).
        if (answers && sig !== 9 && Date.now() - goneSince < RECORD_GRACE_MS) return;
        finish({ exitCode: sig ? 128 + sig : 255, exitedUnixMs: Date.now(), error: sig ? '' : 'container monitor lost: exit status unknown' });
      } finally {
        probing = false;
      }
    };
    const timer = setInterval(() => void probe(), PROBE_MS);
  });
}

/**
 * How long the supervisor waits for a monitor's answer to a call on a user's request (kill, pause,
 * pids): below the gateway's own deadline for the supervisor's answer, so the user hears why.
 */
export const MONITOR_ANSWER_MS = 5_000;

/** A monitor call that failed because no monitor answered (gone and not started again, or hung). */
export function monitorDidNotAnswer(err: unknown): boolean {
  return isUnavailable(err) || isDeadlineExceeded(err);
}

/**
 * Signals through the container's shim; a shim that does not answer is bypassed (the kernel
 * still takes signals), and the signal is remembered as the likely cause of the exit.
 */
export async function signalContainer(ctx: LifecycleContext, rec: ContainerRecord, signal: number, all: boolean): Promise<void> {
  const shim = ctx.shims.get(rec);
  try {
    await unary('shim', shim.kill.bind(shim), { signal, all }, { deadlineMs: MONITOR_ANSWER_MS, idempotent: false });
  } catch (err) {
    // A monitor that is gone, one that does not answer in time (hung), and one that does not know
    // the run (a Node shim started again after a kill -9 does not adopt it) are gone round.
    if (!monitorDidNotAnswer(err) && !isFailedPrecondition(err) && (await socketAnswers(rec.shimSocket))) throw err;
    if (!containerAlive(rec)) return;
    ctx.d.logger.warn({ id: rec.id, signal }, 'shim does not answer: signalling the container directly');
    ctx.signalledDirect.set(rec.id, signal);
    signalDirect(rec, signal, all);
  }
}
