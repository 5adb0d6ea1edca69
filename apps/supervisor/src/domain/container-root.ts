import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { internal, messageOf } from '@berth/errors';
import { fitMountData, isMounted, type MountSpec, resolveInRoot } from '@berth/rootfs';
import type { ContainerRecord } from './model';
import { startInFlight } from './container-run';
import { holdView } from './container-views';
import { prepareSettled } from './prepare-runtime';

const run = promisify(execFile);

async function mountSnapshot(bundle: string, target: string): Promise<void> {
  const shimMount = join(bundle, 'rootfs');
  if (isMounted(shimMount)) {
    await run('mount', ['--bind', shimMount, target]);
    // The monitor may have unmounted it since the check (a prepared container's TTL drop): the
    // bind then shows the empty directory under it, on the bundle's filesystem, and what cp wrote
    // there would be hidden by the next mount of the rootfs. Once bound, the view keeps the mount's
    // filesystem alive whatever the monitor does.
    if (statSync(target).dev !== statSync(bundle).dev) return;
    await run('umount', [target]);
  }
  // Never started: the shim has not mounted it yet; mount the snapshot the same way it would.
  const mounts = JSON.parse(readFileSync(join(bundle, 'rootfs-mounts.json'), 'utf8')) as MountSpec[];
  for (const m of mounts) {
    const opts = m.options.filter((o) => o !== 'rbind');
    if (m.type === 'bind') await run('mount', ['--bind', m.source, target]);
    else {
      const { data, cwd } = fitMountData(opts);
      await run('mount', ['-t', m.type, m.source, target, '-o', data], { cwd });
    }
  }
}

/** A mount command's failure, in its own words; any other error as it is. */
function mountFailure(err: unknown): unknown {
  const stderr = (err as { stderr?: string }).stderr;
  return stderr !== undefined ? internal(`mounting the container's filesystem: ${stderr.trim() || messageOf(err)}`) : err;
}

/**
 * Temporary views of containers' filesystems, under one directory of the exec root so that
 * what a killed supervisor left mounted is found and undone at the next start.
 */
export class ContainerRoots {
  constructor(private readonly dir: string) {}

  /** Unmounts and removes the views a previous run left behind; returns how many. */
  async cleanup(): Promise<number> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let n = 0;
    for (const d of readdirSync(this.dir)) {
      const p = join(this.dir, d);
      if (isMounted(p)) await run('umount', ['-R', '-l', p]).catch(() => undefined);
      try {
        rmdirSync(p);
        n++;
      } catch {
        // still busy: try again next start
      }
    }
    return n;
  }

  /**
   * Runs `fn` with a host path that shows the container's filesystem. `withMounts`: as the
   * container sees it, volumes and binds included (a running container's own mount namespace
   * through /proc/<pid>/root, which also shows its tmpfs mounts); otherwise the root filesystem
   * alone (`docker export`). Temporary mounts are private to a temp dir and removed after.
   */
  async with<T>(rec: ContainerRecord, withMounts: boolean, fn: (root: string) => Promise<T>): Promise<T> {
    // A start on its way comes first (the view is then the running container's own), and one that
    // comes later waits for this view (`viewsSettled`): the check and the hold with no await between.
    for (let start = startInFlight(rec.id); start; start = startInFlight(rec.id)) await start;
    if (withMounts && rec.state.Running && rec.state.Pid > 0 && existsSync(`/proc/${rec.state.Pid}/root`)) {
      return fn(`/proc/${rec.state.Pid}/root`);
    }
    const release = holdView(rec.id);
    try {
      return await this.mounted(rec, withMounts, fn);
    } finally {
      release();
    }
  }

  /**
   * One mount of a container's root filesystem for all of its views at a time, each view a bind of
   * it: two mounts of the same overlay directories at once (two `docker cp` side by side) is what
   * overlayfs warns "accessing files from both mounts will result in undefined behavior" about.
   */
  private readonly bases = new Map<string, { dir: string; users: number; ready: Promise<void> }>();

  private async base(rec: ContainerRecord): Promise<string> {
    let b = this.bases.get(rec.id);
    if (!b) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const dir = mkdtempSync(join(this.dir, `${rec.id.slice(0, 12)}-base-`));
      const ready = mountSnapshot(rec.bundle, dir)
        .then(() => run('mount', ['--make-private', dir]))
        .then(() => undefined)
        .catch(async (err: unknown) => {
          if (isMounted(dir)) await run('umount', ['-l', dir]).catch(() => undefined);
          this.bases.delete(rec.id);
          rmdirSync(dir);
          throw err;
        });
      b = { dir, users: 0, ready };
      this.bases.set(rec.id, b);
    }
    b.users++;
    try {
      await b.ready;
    } catch (err) {
      b.users--;
      throw err;
    }
    return b.dir;
  }

  private async releaseBase(id: string): Promise<void> {
    const b = this.bases.get(id);
    if (!b || --b.users > 0) return;
    this.bases.delete(id);
    await run('umount', [b.dir]).catch(() => run('umount', ['-l', b.dir]));
    rmdirSync(b.dir);
  }

  private async mounted<T>(rec: ContainerRecord, withMounts: boolean, fn: (root: string) => Promise<T>): Promise<T> {
    await prepareSettled(rec.id);
    const base = await this.base(rec).catch((err: unknown) => {
      throw mountFailure(err);
    });
    let dir: string;
    try {
      dir = mkdtempSync(join(this.dir, `${rec.id.slice(0, 12)}-`));
    } catch (err) {
      await this.releaseBase(rec.id);
      throw err;
    }
    let mounted = false;
    try {
      await run('mount', ['--bind', base, dir]);
      mounted = true;
      await run('mount', ['--make-private', dir]);
      if (withMounts) {
        for (const m of rec.mounts ?? []) {
          if (m.Type === 'tmpfs' || !m.Source) continue;
          // The container is not running, so nothing swaps paths under us; still resolve in its root.
          const dest = resolveInRoot(dir, m.Destination);
          if (!existsSync(dest) || statSync(dest).isDirectory() !== statSync(m.Source).isDirectory()) continue;
          await run('mount', ['--bind', m.Source, dest]);
          if (!m.RW) await run('mount', ['-o', 'remount,bind,ro', dest]);
        }
      }
      return await fn(dir);
    } catch (err) {
      throw mountFailure(err);
    } finally {
      if (mounted) await run('umount', ['-R', dir]).catch(() => run('umount', ['-R', '-l', dir]));
      rmdirSync(dir);
      await this.releaseBase(rec.id);
    }
  }
}
