import { conflict, invalidArgument, isNotFound, messageOf } from '@berth/errors';
import type { SharedNamespace } from '@berth/oci-spec';
import type { Containers } from './containers';
import type { HostConfig } from './model';

export interface NamespaceModes {
  pid?: SharedNamespace;
  ipc?: SharedNamespace & { shm?: string };
  utsHost?: boolean;
}

const IPC_PRIVATE = ['', 'private', 'shareable', 'none'];

/**
 * `--pid`, `--ipc` and `--uts` as dockerd checks and applies them: the host's namespace, or
 * (pid, ipc) a running container's, joined through its init's /proc entry. The entry is taken at
 * create, so a joined container must be created while its target runs, as `--network
 * container:` already is here.
 */
export function namespaceModes(containers: Containers, hc: HostConfig, hostname: string): NamespaceModes {
  const pid = hc.PidMode ?? '';
  const ipc = hc.IpcMode ?? '';
  const uts = hc.UTSMode ?? '';
  if (pid !== '' && pid !== 'host' && !/^container:.+/.test(pid)) throw invalidArgument(`invalid PID mode: ${pid}`);
  if (!IPC_PRIVATE.includes(ipc) && ipc !== 'host' && !/^container:.+/.test(ipc)) throw invalidArgument(`invalid IPC mode: ${ipc}`);
  if (uts !== '' && uts !== 'host') throw invalidArgument(`invalid UTS mode: ${uts}`);
  if (uts === 'host' && hostname) throw invalidArgument('conflicting options: hostname and the UTS mode');
  const out: NamespaceModes = {};
  if (pid === 'host') out.pid = { mode: 'host' };
  else if (pid) out.pid = { mode: 'path', path: `/proc/${runningPid(containers, pid.slice('container:'.length), 'PID')}/ns/pid` };
  // A container's /dev/shm is a tmpfs inside its own mount namespace, which another container
  // cannot bind (the kernel refuses a bind across mount namespaces): a joined IPC namespace
  // shares SysV IPC and message queues, not /dev/shm (dockerd's `shareable` keeps it on the host).
  if (ipc === 'host') out.ipc = { mode: 'host', shm: '/dev/shm' };
  else if (ipc.startsWith('container:')) out.ipc = { mode: 'path', path: `/proc/${runningPid(containers, ipc.slice('container:'.length), 'IPC')}/ns/ipc` };
  if (uts === 'host') out.utsHost = true;
  return out;
}

function runningPid(containers: Containers, ref: string, what: 'PID' | 'IPC'): number {
  let rec;
  try {
    rec = containers.get(ref);
  } catch (err) {
    // A 404 at create makes the docker CLI pull the image instead of saying what is missing.
    if (isNotFound(err)) throw invalidArgument(messageOf(err));
    throw err;
  }
  if (!rec.state.Running || rec.state.Pid <= 0) throw conflict(`cannot join ${what} of a non running container: ${rec.id}`);
  return rec.state.Pid;
}
