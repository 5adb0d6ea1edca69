import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** True while the process exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '');
    return s[0] !== 'Z' && s[0] !== 'X';
  } catch {
    return false;
  }
}

/**
 * What `runc start` does, without starting runc: a created container's init waits, before it
 * exec()s the container's process, until a reader opens `<state>/exec.fifo`; it then writes one
 * byte and exec()s (its end is close-on-exec). Reading that byte to the end and removing the FIFO
 * is the start (runc's state then reads "running"). A runc process costs tens of milliseconds on
 * a loaded host, on every run. Returns false, having done nothing, when the state is not runc's
 * or has no FIFO (not a created container): the caller then runs `runc start`. Rejects when the
 * init ended before it could be started.
 */
export async function startThroughExecFifo(runtimeRoot: string, id: string, initPid: number): Promise<boolean> {
  const dir = join(runtimeRoot, id);
  const fifo = join(dir, 'exec.fifo');
  if (!existsSync(join(dir, 'state.json')) || !existsSync(fifo)) return false;
  // The open blocks (on the thread pool) until the init opens its end. An init that died first
  // never will: then this process opens the writing end itself, which lets the open return, and
  // closes it, so the read below ends with nothing.
  let released = false;
  const watchdog = setInterval(() => {
    if (released || running(initPid)) return;
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      released = true;
    } catch {
      // ENXIO: the open above is not waiting yet; the next tick tries again
    }
  }, 50);
  let data: Buffer;
  try {
    const fh = await open(fifo, constants.O_RDONLY);
    try {
      data = await fh.readFile();
    } finally {
      await fh.close();
    }
  } finally {
    clearInterval(watchdog);
  }
  if (!data.length) throw new Error('cannot start a container that has stopped');
  await unlink(fifo);
  return true;
}
