// A Berth service started by hand from its built artifact (dist/apps/<app>/main.js), with a
// private Redis on a unix socket: what the conformance harness and the bring-your-own-service
// test both run, so one helper starts, SIGKILLs and starts them again.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { serviceHealthy } from '@berth/clients';

export const ROOT = resolve(__dirname, '../..');

export async function waitHealthy(service: string, address: string, timeoutMs = 30_000, gone?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await serviceHealthy(service, address, { deadlineMs: 2_000 }))) {
    const why = gone?.();
    if (why) throw new Error(`${service} at ${address} exited before it served: ${why}`);
    if (Date.now() > deadline) throw new Error(`${service} at ${address} did not become healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM (or the signal given) and wait for the exit; a process already gone is fine. */
export async function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = once(p, 'exit');
  p.kill(signal);
  await gone;
}

/** A private redis-server on `<dir>/redis.sock`, no persistence. */
export function startRedis(dir: string): { proc: ChildProcess; url: string } {
  const sock = join(dir, 'redis.sock');
  const proc = spawn('redis-server', ['--unixsocket', sock, '--port', '0', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  return { proc, url: `unix://${sock}` };
}

export class ServiceProcess {
  proc: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly service: string,
    readonly app: string,
    readonly configFile: string,
    readonly address: string,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The last part of what it printed, for a failure report. */
  log(chars = 4000): string {
    return this.output.slice(-chars);
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const proc = spawn(process.execPath, [join(ROOT, 'dist/apps', this.app, 'main.js'), '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    await waitHealthy(this.service, this.address, timeoutMs, () => (proc.exitCode !== null || proc.signalCode !== null ? `${proc.signalCode ?? `code ${proc.exitCode}`}\n${this.log()}` : undefined));
  }

  /** SIGKILL by pid, as a crash would, then the same artifact again. */
  async restart(): Promise<void> {
    await stopProcess(this.proc, 'SIGKILL');
    await this.start();
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return stopProcess(this.proc, signal);
  }
}
