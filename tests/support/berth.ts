import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fixtures } from './fixtures';

export const ROOT = resolve(__dirname, '../..');
export const LAUNCHER = join(ROOT, 'dist/tools/launcher/launcher.js');
export const ADMIN = join(ROOT, 'dist/tools/launcher/admin.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL', cwd: opts.cwd, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

export interface LauncherState {
  pid: number;
  children: Record<string, { pid: number; restarts: number; status: string }>;
}

/** One isolated Berth suite: its own data root, exec root, sockets and Redis. */
export class Suite {
  private constructor(
    readonly base: string,
    readonly dataRoot: string,
    readonly execRoot: string,
    readonly proc: ChildProcess,
    readonly dockerHost: string,
    private readonly output: () => string,
    /** This suite's default bridge and the pool its networks take subnets from. */
    readonly bridge: string,
    readonly addressPool: string,
  ) {}

  /** Starts a suite in a fresh temp dir (short path: unix socket paths are limited to 108 bytes). */
  static async start(extraArgs: string[] = [], timeoutMs = 60_000, opts: { bridge?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Suite> {
    const base = mkdtempSync('/tmp/bt-');
    // Passable (not listable) by anyone, as /var/lib is: a --userns-remap root must reach its bundles.
    chmodSync(base, 0o711);
    const dataRoot = join(base, 'data');
    const execRoot = join(base, 'run');
    const bridge = opts.bridge ?? `bt${randomBytes(4).toString('hex')}`;
    const addressPool = freeAddressPool();
    const netArgs = ['--bridge', bridge, '--default-address-pool', `base=${addressPool},size=24`];
    // Tests never reach a public registry: Docker Hub goes to a port fetch refuses to dial.
    const offline = extraArgs.some((a) => a.startsWith('--config')) ? [] : ['--registry-host', 'docker.io=http://127.0.0.1:9'];
    // BERTH_TEST_MONITOR=conmon|shim runs a file's containers under that monitor (the default otherwise).
    const monitor = process.env.BERTH_TEST_MONITOR && !extraArgs.some((a) => a.startsWith('--default-monitor')) ? ['--default-monitor', process.env.BERTH_TEST_MONITOR] : [];
    const proc = spawn(process.execPath, [LAUNCHER, '--data-root', dataRoot, '--exec-root', execRoot, ...netArgs, ...offline, ...monitor, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + timeoutMs;
    while (!/DOCKER_HOST=(\S+)/.test(out)) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGTERM');
        rmSync(base, { recursive: true, force: true });
        throw new Error(`suite did not start (exit ${proc.exitCode}):\n${err}\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const host = /DOCKER_HOST=(\S+)/.exec(out)![1]!;
    return new Suite(base, dataRoot, execRoot, proc, host, () => `${out}\n${err}`, bridge, addressPool);
  }

  /** A suite with the busybox fixture image loaded, which most tests run. */
  static async startWithBusybox(extraArgs: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Suite> {
    const [suite, fx] = await Promise.all([Suite.start(extraArgs, undefined, opts), fixtures()]);
    const load = await suite.docker(['load', '-i', fx.busybox]);
    if (load.code !== 0) {
      await suite.stop();
      throw new Error(load.stderr);
    }
    return suite;
  }

  /** `docker rm -f` of every container (with `-v` for their anonymous volumes when asked). */
  async removeAllContainers(opts: { volumes?: boolean } = {}): Promise<void> {
    const ids = (await this.docker(['ps', '-aq'])).stdout.trim();
    if (ids) await this.docker(['rm', '-f', ...(opts.volumes ? ['-v'] : []), ...ids.split('\n')]);
  }

  get logs(): string {
    return this.output();
  }

  docker(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('docker', args, { ...opts, env: { DOCKER_HOST: this.dockerHost, DOCKER_CONFIG: join(this.base, 'docker-config'), ...opts.env } });
  }

  /**
   * The pid of the monitor process serving container `id`, or 0: its Node shim (whose command
   * line names the container), else this suite's conmon monitor, which serves every container it
   * has. Without `id`, the conmon monitor's.
   */
  monitorPid(id?: string): number {
    const state = join(this.execRoot, 'monitor');
    let conmonMonitor = 0;
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      let cmd: string[];
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      } catch {
        continue; // gone
      }
      if (id && cmd.includes('--bundle') && cmd[cmd.indexOf('--id') + 1] === id) return Number(p);
      if (cmd.some((a) => a.endsWith('apps/monitor/main.js')) && cmd[cmd.indexOf('--state') + 1] === state) conmonMonitor = Number(p);
    }
    return conmonMonitor;
  }

  /** SIGKILL of the conmon monitor (the one process for every conmon container), once it has gone. */
  async killMonitor(): Promise<void> {
    const mon = this.monitorPid();
    if (!(mon > 0)) throw new Error('no conmon monitor runs');
    process.kill(mon, 'SIGKILL');
    await eventually(async () => alive(mon), (a) => !a);
  }

  admin(args: string[]): Promise<RunResult> {
    return run(process.execPath, [ADMIN, '--exec-root', this.execRoot, ...args]);
  }

  state(): LauncherState {
    return JSON.parse(readFileSync(join(this.execRoot, 'launcher', 'state.json'), 'utf8')) as LauncherState;
  }

  /**
   * An attach over a raw hijacked connection whose client never reads past the 101 head: the
   * stalled reader a container's output, wait and removal must not depend on.
   */
  async stalledAttach(name: string): Promise<Socket> {
    const sock = connect(this.dockerHost.replace('unix://', ''));
    await once(sock, 'connect');
    sock.write(`POST /containers/${name}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    await once(sock, 'data');
    sock.pause();
    return sock;
  }

  /** A raw Engine API request over the unix socket. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolvePromise, reject) => {
      const req = request(
        { socketPath: this.dockerHost.replace('unix://', ''), path, method, headers: body ? { 'content-type': 'application/json' } : {} },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    });
  }

  /** Stops the launcher (which stops its services), checks they are gone, removes the roots. */
  async stop(): Promise<void> {
    let pids: number[] = [];
    try {
      pids = Object.values(this.state().children).map((c) => c.pid).filter((p) => p > 0);
    } catch {
      // never got that far
    }
    if (this.proc.exitCode === null) {
      const exited = once(this.proc, 'exit');
      this.proc.kill('SIGTERM');
      await exited;
    }
    for (const pid of pids) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    await this.removeLeftovers();
    this.removeNetworking();
    // Never recurse through a mount that is still there: it could be a bind of a host folder.
    if (this.mountsUnder(this.base).length === 0) rmSync(this.base, { recursive: true, force: true });
    else console.error(`left ${this.base} in place: still mounted under it: ${this.mountsUnder(this.base).join(', ')}`);
  }

  /**
   * What a test left running outlives the services by design (monitors, conmon, containers, their
   * mounts): a suite that stops takes its own away. Its processes are found by the roots in their
   * command lines and its containers by their cgroups; every path is this suite's own.
   */
  private async removeLeftovers(): Promise<void> {
    let ids: string[] = [];
    try {
      ids = readdirSync(join(this.execRoot, 'bundles'));
    } catch {
      // no container made
    }
    const kill = (pid: number) => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    };
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${this.base}/`)) kill(Number(p));
      } catch {
        // gone
      }
    }
    const cgroups = ids.flatMap((id) => ['', ...readdirSync('/sys/fs/cgroup')].map((h) => join('/sys/fs/cgroup', h, 'berth', id)));
    for (const dir of cgroups) {
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) kill(Number(pid));
      } catch {
        // not in this hierarchy
      }
    }
    for (const m of this.mountsUnder(this.base).reverse()) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        // went with its parent
      }
    }
    // A killed process leaves its cgroup a moment later.
    for (let left = cgroups, i = 0; left.length > 0 && i < 20; i++) {
      left = left.filter((dir) => {
        try {
          rmdirSync(dir);
          return false;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'EBUSY';
        }
      });
      if (left.length > 0) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private mountsUnder(dir: string): string[] {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${dir}/`));
  }

  /**
   * Bridges, veths, namespaces and NAT rules outlive the services by design; a finished suite
   * takes its own away: the interfaces enslaved to its bridges, the bridges, its nft table.
   */
  removeNetworking(): void {
    const sh = (cmd: string, args: string[]) => {
      try {
        return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      } catch {
        return '';
      }
    };
    for (const br of this.bridges()) {
      for (const port of sh('ip', ['-o', 'link', 'show', 'master', br]).matchAll(/^\d+:\s+([^@:\s]+)/gm)) sh('ip', ['link', 'del', port[1]!]);
      sh('ip', ['link', 'del', br]);
    }
    sh('nft', ['delete', 'table', 'ip', `berth_${this.bridge}`]);
    const netnsDir = join(this.execRoot, 'netns');
    let files: string[] = [];
    try {
      files = readdirSync(netnsDir);
    } catch {
      // none made
    }
    for (const f of files) sh('umount', ['-l', join(netnsDir, f)]);
  }

  /** The default bridge and every bridge of a user-defined network of this suite (named br-<id>). */
  bridges(): string[] {
    const out = [this.bridge];
    try {
      for (const f of readdirSync(join(this.dataRoot, 'netproxy', 'networks'))) {
        const rec = JSON.parse(readFileSync(join(this.dataRoot, 'netproxy', 'networks', f), 'utf8')) as { bridge?: string };
        if (rec.bridge && !out.includes(rec.bridge)) out.push(rec.bridge);
      }
    } catch {
      // no records
    }
    return out;
  }
}

/** A random 10.x.y.0/22 that no host route or interface address overlaps, for one suite's networks. */
export function freeAddressPool(): string {
  const used = execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all']).toString() + execFileSync('ip', ['-4', '-o', 'addr']).toString();
  const taken = [...used.matchAll(/\b10\.(\d+)\.(\d+)\.\d+/g)].map((m) => [Number(m[1]), Number(m[2]) & ~3]);
  for (;;) {
    const a = randomInt(100, 250);
    const b = randomInt(0, 64) * 4;
    if (!taken.some(([x, y]) => x === a && y === b)) return `10.${a}.${b}.0/22`;
  }
}

export function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A docker CLI against `dockerHost` with a pipe for stdin; `out` and `err` grow as the CLI prints. */
export function pipedCli(dockerHost: string, args: string[]) {
  const p = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: dockerHost } });
  const r = { p, out: '', err: '', done: new Promise<number>((res) => p.on('close', (code, sig) => res(code ?? (sig ? -1 : -2)))) };
  p.stdout.on('data', (d: Buffer) => (r.out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (r.err += d.toString()));
  p.stdin.on('error', () => undefined);
  return r;
}
