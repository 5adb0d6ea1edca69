import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { delimiter, join } from 'node:path';
import { keepsNoLog, type ShimOptions } from '@berth/shim-core';

export const CONMON = process.env.BERTH_CONMON ?? '/usr/bin/conmon';

/** conmon runs its runtime by path only: a bare name (`runc`) is looked up in PATH here. */
export function executablePath(name: string): string {
  if (name.includes('/')) return name;
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return name;
}

/** Where one container's conmon keeps its files, all inside the bundle. */
export interface ConmonPaths {
  dir: string;
  exitDir: string;
  persistDir: string;
  socketDir: string;
  conmonPid: string;
  initPid: string;
  log: string;
  /** conmon's control FIFO (`<type> <height> <width>` lines; type 1 is a resize). */
  ctl: string;
  /** conmon's own messages (and the runtime's, when it fails before conmon can report it). */
  ownLog: string;
}

export function conmonPaths(bundle: string, o: ShimOptions): ConmonPaths {
  const dir = join(bundle, 'conmon');
  return {
    dir,
    exitDir: join(dir, 'exits'),
    persistDir: join(dir, 'persist'),
    socketDir: join(dir, 'sockets'),
    conmonPid: join(dir, 'conmon.pid'),
    initPid: join(bundle, 'init.pid'),
    // The supervisor names a k8s-file path for conmon containers (`<id>-k8s.log`).
    log: o.logPath,
    ctl: join(bundle, 'ctl'),
    ownLog: join(dir, 'conmon.log'),
  };
}


/**
 * `runc create` under a new conmon, which double-forks into its own session: the container's
 * parent from then on is conmon, not this process, so this process may die at any time. Resolves
 * with the container's init pid (created, not started) from conmon's sync pipe; rejects with the
 * runtime's message.
 */
export function createUnderConmon(bundle: string, o: ShimOptions, p: ConmonPaths): Promise<number> {
  for (const d of [p.exitDir, p.persistDir, p.socketDir]) mkdirSync(d, { recursive: true });
  const runtimeArgs = [...o.runtime.args, '--root', o.runtimeRoot].flatMap((a) => ['--runtime-arg', a]);
  const args = [
    '--api-version', '1',
    '-c', o.id, '-u', o.id, '-n', o.id,
    '-r', executablePath(o.runtime.path), ...runtimeArgs,
    '-b', bundle,
    '-p', p.initPid,
    '-P', p.conmonPid,
    '--exit-dir', p.exitDir,
    '--persist-dir', p.persistDir,
    '--socket-dir-path', p.socketDir,
    '-l', keepsNoLog(o) ? 'none:' : `k8s-file:${p.log}`,
    // Docker's json-file never fsyncs either; a sync at every exit costs the run path.
    '--no-sync-log',
    '--log-level', 'warn',
    // The terminal is conmon's (it gets the console socket); stdin is its attach socket's input.
    ...(o.tty ? ['-t'] : []),
    ...(o.openStdin ? ['-i'] : []),
    // StdinOnce is conmon's default: the first attached client to go closes stdin.
    ...(o.openStdin && !o.stdinOnce ? ['--leave-stdin-open'] : []),
  ];
  const own = openSync(p.ownLog, 'a');
  const child = spawn(CONMON, args, { stdio: ['ignore', own, own, 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3' }, detached: true, cwd: bundle });
  closeSync(own);
  child.unref();
  const sync = child.stdio[3] as Readable;
  return new Promise<number>((resolve, reject) => {
    let text = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      sync.destroy();
      fn();
    };
    sync.on('data', (b: Buffer) => {
      text += b.toString('utf8');
      const nl = text.indexOf('\n');
      const line = nl >= 0 ? text.slice(0, nl) : text;
      let msg: { data?: number; pid?: number; message?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      const pid = msg.data ?? msg.pid ?? -1;
      if (pid > 0) settle(() => resolve(pid));
      else settle(() => reject(new Error(runtimeMessage(msg.message ?? `conmon: runtime create failed (${pid})`))));
    });
    sync.on('error', () => undefined);
    sync.on('close', () => settle(() => reject(new Error(`conmon ended without a status; see ${p.ownLog}`))));
    child.on('error', (err) => settle(() => reject(err)));
  });
}

/** The runtime's own words from its logrus line (`time=... level=error msg="..."`), as the Node shim reports them. */
export function runtimeMessage(text: string): string {
  const all = [...text.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)];
  const last = all[all.length - 1]?.[1];
  if (last === undefined) return text.trim();
  try {
    return JSON.parse(`"${last}"`) as string;
  } catch {
    return last;
  }
}
