import { conflict, invalidArgument, isNotFound, messageOf } from '@berth/errors';
import type { SharedNamespace } from '@berth/oci-spec';
import type { Containers } from './containers';
import type { ContainerRecord, HostConfig } from './model';

export interface NamespaceModes {
  pid?: SharedNamespace;
  ipc?: (SharedNamespace | { mode: 'private' }) & { shm?: string | false };
  utsHost?: boolean;
}

const IPC_PRIVATE = ['', 'private', 'shareable', 'none'];

/**
 * `--pid`, `--ipc` and `--uts` as dockerd checks and applies them: the host's namespace, or
 * (pid, ipc) a running container's, joined through its init's /proc entry. The entry is taken at
 * create, so a joined container must be created while its target runs, as `--network
 * container:` already is here. `ownShm` is where the new container's /dev/shm goes if it is
 * `shareable`.
 */
export function namespaceModes(containers: Containers, hc: HostConfig, hostname: string, ownShm: string): NamespaceModes {
  const pid = hc.PidMode ?? '';
  const ipc = hc.IpcMode ?? '';
  const uts = hc.UTSMode ?? '';
  if (pid !== '' && pid !== 'host' && !/^container:.+/.test(pid)) throw invalidArgument(`invalid PID mode: ${pid}`);
  if (!IPC_PRIVATE.includes(ipc) && ipc !== 'host' && !/^container:.+/.test(ipc)) throw invalidArgument(`invalid IPC mode: ${ipc}`);
  if (uts !== '' && uts !== 'host') throw invalidArgument(`invalid UTS mode: ${uts}`);
  if (uts === 'host' && hostname) throw invalidArgument('conflicting options: hostname and the UTS mode');
  const out: NamespaceModes = {};
  if (pid === 'host') out.pid = { mode: 'host' };
  else if (pid) out.pid = { mode: 'path', path: `/proc/${running(containers, pid.slice('container:'.length), 'PID').state.Pid}/ns/pid` };
  // A private container's /dev/shm is a tmpfs inside its own mount namespace, which no other
  // container can bind (the kernel refuses a bind across mount namespaces); a `shareable` one's
  // is a tmpfs on the host (ipc-shm.ts), which joiners bind too. So, as in dockerd, only a
  // shareable or host-IPC donor can be joined.
  if (ipc === 'host') out.ipc = { mode: 'host', shm: '/dev/shm' };
  else if (ipc === 'shareable') out.ipc = { mode: 'private', shm: ownShm };
  else if (ipc === 'none') out.ipc = { mode: 'private', shm: false };
  else if (ipc.startsWith('container:')) {
    const donor = running(containers, ipc.slice('container:'.length), 'IPC');
    if (!donor.shmPath) throw invalidArgument(`container ${donor.id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    out.ipc = { mode: 'path', path: `/proc/${donor.state.Pid}/ns/ipc`, shm: donor.shmPath };
  }
  if (uts === 'host') out.utsHost = true;
  return out;
}

function running(containers: Containers, ref: string, what: 'PID' | 'IPC'): ContainerRecord {
  let rec;
  try {
    rec = containers.get(ref);
  } catch (err) {
    // A 404 at create makes the docker CLI pull the image instead of saying what is missing.
    if (isNotFound(err)) throw invalidArgument(messageOf(err));
    throw err;
  }
  if (!rec.state.Running || rec.state.Pid <= 0) throw conflict(`cannot join ${what} of a non running container: ${rec.id}`);
  return rec;
}
