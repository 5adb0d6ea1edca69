import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { fromServiceError } from '@berth/grpc';
import { messageOf } from '@berth/errors';
import type { shimV1 } from '@berth/proto';
import { goDuration } from './health-config';

/** Docker keeps the first 4096 bytes of a probe's output, then "...". */
const MAX_OUTPUT = 4096;
/** How long a killed probe may take to be reported gone before the call is given up. */
const KILL_GRACE_MS = 10_000;

export interface ProbeOutcome {
  /** The probe's exit code; -1 when it could not run or ran past its timeout. */
  exitCode: number;
  output: string;
}

/** The probe's output as Docker stores it: stdout and stderr together, truncated. */
class LimitedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  add(b: Buffer): void {
    const keep = Math.min(MAX_OUTPUT - this.size, b.length);
    if (keep > 0) {
      this.chunks.push(b.subarray(0, keep));
      this.size += keep;
    }
    if (keep < b.length) this.truncated = true;
  }

  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.truncated ? '...' : '');
  }
}

/**
 * Runs one probe as an exec through the container's shim. A probe still running at its timeout
 * is killed (its host pid, from the shim) and counts as a failure, as in Docker.
 */
export function runProbe(shim: shimV1.ShimClient, execId: string, processJson: Buffer, timeoutMs: number, onStarted: () => void): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const out = new LimitedOutput();
    const call: ClientDuplexStream<shimV1.ExecRequest, shimV1.ExecResponse> = shim.exec();
    let pid = 0;
    let timedOut = false;
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (r: ProbeOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      call.cancel();
      resolve(r);
    };
    const timeoutResult = () => ({ exitCode: -1, output: `Health check exceeded timeout (${goDuration(timeoutMs)})` });
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone: its exit is on its way.
        }
      }
      grace = setTimeout(() => finish(timeoutResult()), pid > 0 ? KILL_GRACE_MS : 0);
    }, timeoutMs);
    call.on('data', (m: shimV1.ExecResponse) => {
      if (m.started) {
        pid = m.pid;
        onStarted();
        if (timedOut && pid > 0) process.kill(pid, 'SIGKILL');
      } else if (m.exited) {
        finish(timedOut ? timeoutResult() : { exitCode: m.exitCode, output: out.toString() });
      } else if (m.data.length) {
        out.add(Buffer.from(m.data));
      }
    });
    call.on('error', (err: ServiceError) => finish(timedOut ? timeoutResult() : { exitCode: -1, output: messageOf(fromServiceError(err, 'shim')) }));
    call.on('end', () => finish(timedOut ? timeoutResult() : { exitCode: -1, output: 'health check probe ended without an exit status' }));
    call.write({ execId, processJson, stdin: false, stdout: true, stderr: true, stdinData: Buffer.alloc(0), closeStdin: false });
  });
}
