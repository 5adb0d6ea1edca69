import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { cgroupRelPath } from './paths';

const KMSG = '/dev/kmsg';

/** When the machine booted, in Unix ms (kmsg stamps records in µs since boot). */
function bootTimeMs(): number {
  const up = Number(readFileSync('/proc/uptime', 'utf8').split(/\s+/)[0]);
  return Date.now() - up * 1000;
}

/**
 * Whether the kernel's OOM killer killed a task of the cgroup at or after `sinceUnixMs`. The
 * kernel logs every memcg OOM kill with the cgroup's path ("oom-kill:...,task_memcg=/berth/<id>");
 * the log outlives the cgroup (runc removes it at exit) and every Berth service restarting, which
 * is why it, and not the cgroup's own counter, is the record. Reading it is what cAdvisor does.
 */
export function oomKilledSince(cgroupsPath: string, sinceUnixMs: number): boolean {
  const want = cgroupRelPath(cgroupsPath);
  let fd: number;
  try {
    fd = openSync(KMSG, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  const sinceUs = (sinceUnixMs - bootTimeMs()) * 1000 - 2_000_000;
  const buf = Buffer.alloc(16 * 1024);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        // EPIPE: records were overwritten while reading; the next read goes on from the oldest.
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue;
        return false;
      }
      if (n <= 0) return false;
      const rec = buf.toString('utf8', 0, n);
      const semi = rec.indexOf(';');
      if (semi < 0) continue;
      const stampUs = Number(rec.slice(0, semi).split(',')[2]);
      if (stampUs < sinceUs) continue;
      const msg = rec.slice(semi + 1);
      if (!msg.startsWith('oom-kill:')) continue;
      const memcg = /(?:^|,)task_memcg=([^,\n]*)/.exec(msg)?.[1];
      if (memcg === want) return true;
    }
  } finally {
    closeSync(fd);
  }
}
