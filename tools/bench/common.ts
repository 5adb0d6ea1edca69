import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from '../../tests/support/berth';

const args = process.argv.slice(2);

/** `--name N` from the command line, or `def`. */
export function numberOption(name: string, def: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
}

export function hasFlag(name: string): boolean {
  return args.includes(name);
}

export function stats(ms: number[]): { median: number; p90: number; min: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!, min: s[0]!, max: s[s.length - 1]! };
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export type Docker = (args: string[]) => Promise<RunResult>;

export const DOCKERD = '/usr/sbin/dockerd';

/**
 * Runs `fn` against a private reference Docker engine (Debian's dockerd): its own data root,
 * exec root, socket and containerd namespace, no iptables, and no bridge unless one is given,
 * never the host's daemon. Undefined when none is installed or `--no-reference` is given.
 */
export async function withReferenceEngine<T>(
  fn: (docker: Docker, ref: { pid: number; base: string }) => Promise<T>,
  o: { bridge?: string; namespace?: string; timeoutMs?: number } = {},
): Promise<T | undefined> {
  if (hasFlag('--no-reference') || !existsSync(DOCKERD)) return undefined;
  const base = mkdtempSync('/tmp/berth-bench-ref-');
  const sock = join(base, 'docker.sock');
  const ns = o.namespace ?? 'berth-bench';
  const d: ChildProcess = spawn(
    DOCKERD,
    ['--data-root', join(base, 'data'), '--exec-root', join(base, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(base, 'dockerd.pid'),
      '--iptables=false', '--ip6tables=false', '--bridge', o.bridge ?? 'none', '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}-p`],
    { stdio: 'ignore' },
  );
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(base, 'cli') };
  const docker: Docker = (a) => run('docker', a, { env, timeoutMs: o.timeoutMs ?? 600_000 });
  try {
    for (let i = 0; i < 100 && (await docker(['version'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
    return await fn(docker, { pid: d.pid ?? 0, base });
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    execFileSync('sh', ['-c', `grep ' ${base}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
    rmSync(base, { recursive: true, force: true });
  }
}
