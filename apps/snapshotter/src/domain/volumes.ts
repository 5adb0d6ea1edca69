import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { failedPrecondition, internal, invalidArgument, messageOf, notFound } from '@berth/errors';
import { newId } from '@berth/ids';
import { RecordStore } from '@berth/store';
import { fitMountData, isMounted, resolveInRoot } from '@berth/rootfs';
import { dirSize } from './dir-size';
import { type Filters, filterBool, matchLabel, matchName, parseFilters } from './volume-filters';
import type { Mount } from './snapshotter';
import type { UsernsRemap } from '@berth/config';
import { shiftToRemap } from './remap-owner';

const run = promisify(execFile);

/** Docker marks volumes made for `-v /path` or an image VOLUME with this label; prune goes by it. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const LOCAL_OPTS = ['type', 'device', 'o', 'size'];

export interface VolumeRecord {
  name: string;
  driver: 'local';
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Containers holding a reference, by ID. */
  containers: string[];
}

export interface VolumeView extends VolumeRecord {
  mountpoint: string;
  anonymous: boolean;
  size: number;
}

/** Reads a snapshot's tree: mounts it read-only somewhere and returns the mounts to apply. */
export type SnapshotMounts = (key: string) => Mount[];

/**
 * Named volumes of the local driver. Layout: `<root>/<name>/_data` is the data, `<root>/metadata`
 * the records. A volume's directory is made before its record and its record removed before its
 * directory, so a record never points at nothing; start-up removes directories without a record.
 */
export class Volumes {
  private readonly store: RecordStore<VolumeRecord>;

  constructor(
    private readonly root: string,
    /** Where copy-up mounts the image's tree for a moment; emptied (unmounted) at start-up. */
    private readonly scratch: string,
    private readonly snapshotMounts: SnapshotMounts,
    /** Publishes a Docker volume event (create, mount, unmount, destroy); never throws. */
    private readonly event: (action: string, name: string, attrs: Record<string, string>) => void = () => undefined,
    /** The daemon's --userns-remap: volumes belong to the remapped root, as under dockerd. */
    private readonly remap?: UsernsRemap,
  ) {
    this.store = new RecordStore<VolumeRecord>(join(root, 'metadata'));
  }

  /** Loads the records, drops half-made volumes and remounts option volumes still in use. */
  async reconcile(): Promise<{ orphans: number }> {
    mkdirSync(this.root, { recursive: true, mode: 0o701 });
    mkdirSync(this.scratch, { recursive: true, mode: 0o700 });
    // A copy-up cut short by a kill leaves its read-only mount here.
    for (const d of readdirSync(this.scratch)) {
      const p = join(this.scratch, d);
      if (isMounted(p)) await run('umount', ['-l', p]).catch(() => undefined);
      try {
        rmdirSync(p);
      } catch {
        // busy: next start
      }
    }
    this.store.load();
    let orphans = 0;
    for (const d of readdirSync(this.root)) {
      if (d === 'metadata' || this.store.has(d)) continue;
      const data = join(this.root, d, '_data');
      if (isMounted(data)) await run('umount', [data]).catch(() => undefined);
      rmSync(join(this.root, d), { recursive: true, force: true });
      orphans++;
    }
    for (const v of this.store.values()) {
      if (v.containers.length > 0 && Object.keys(v.options).length > 0) await this.mount(v);
    }
    return { orphans };
  }

  mountpoint(name: string): string {
    return join(this.root, name, '_data');
  }

  private view(v: VolumeRecord, withSize = false): VolumeView {
    const mountpoint = this.mountpoint(v.name);
    return { ...v, mountpoint, anonymous: ANONYMOUS_LABEL in v.labels, size: withSize ? dirSize(mountpoint) : -1 };
  }

  private must(name: string, verb: string): VolumeRecord {
    const v = this.store.get(name);
    if (!v) throw notFound(`${verb} ${name}: no such volume`);
    return v;
  }

  /** Creating an existing name returns that volume, as Docker does. */
  create(nameIn: string, driver: string, labels: Record<string, string>, opts: Record<string, string>, anonymous: boolean): VolumeView {
    const name = nameIn || newId();
    if (driver && driver !== 'local') throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    if (!NAME.test(name)) {
      throw invalidArgument(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const existing = this.store.get(name);
    if (existing) return this.view(existing);
    for (const k of Object.keys(opts)) if (!LOCAL_OPTS.includes(k)) throw invalidArgument(`create ${name}: invalid option key: "${k}"`);
    if (Object.keys(opts).length > 0 && !opts.type && !opts.device) throw invalidArgument(`create ${name}: missing required option: "device"`);
    const dir = join(this.root, name);
    const tmp = join(this.root, `.${name}.${newId().slice(0, 8)}`);
    mkdirSync(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    if (this.remap) shiftToRemap(tmp, this.remap);
    renameSync(tmp, dir);
    const rec: VolumeRecord = {
      name,
      driver: 'local',
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      labels: anonymous ? { ...labels, [ANONYMOUS_LABEL]: '' } : { ...labels },
      options: { ...opts },
      containers: [],
    };
    this.store.put(name, rec);
    this.event('create', name, { driver: 'local' });
    return this.view(rec);
  }

  get(name: string, withSize = false): VolumeView {
    return this.view(this.must(name, 'get'), withSize);
  }

  list(filtersJson: string, withSize = false): VolumeView[] {
    const f = parseFilters(filtersJson, ['dangling', 'name', 'label', 'driver']);
    return this.store
      .values()
      .filter((v) => (f.dangling ?? []).every((d) => filterBool('dangling', d) === (v.containers.length === 0)))
      .filter((v) => !f.name?.length || f.name.some((n) => matchName(v.name, n)))
      .filter((v) => (f.label ?? []).every((l) => matchLabel(v.labels, l)))
      .filter((v) => !f.driver?.length || f.driver.includes(v.driver))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((v) => this.view(v, withSize));
  }

  async remove(name: string, force: boolean): Promise<void> {
    const v = this.store.get(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    if (v.containers.length > 0) throw failedPrecondition(`remove ${name}: volume is in use - [${v.containers.join(', ')}]`);
    await this.unmount(v);
    this.store.delete(name);
    rmSync(join(this.root, name), { recursive: true, force: true });
    this.event('destroy', name, { driver: 'local' });
  }

  async prune(filtersJson: string): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const f: Filters = parseFilters(filtersJson, ['label', 'label!', 'all']);
    const all = (f.all ?? []).some((v) => filterBool('all', v));
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const v of this.store.values()) {
      if (v.containers.length > 0) continue;
      if (!all && !(ANONYMOUS_LABEL in v.labels)) continue;
      if (!(f.label ?? []).every((l) => matchLabel(v.labels, l))) continue;
      if ((f['label!'] ?? []).some((l) => matchLabel(v.labels, l))) continue;
      const size = Object.keys(v.options).length ? 0 : dirSize(this.mountpoint(v.name));
      await this.remove(v.name, false);
      deleted.push(v.name);
      spaceReclaimed += size;
    }
    return { deleted, spaceReclaimed };
  }

  async acquire(name: string, containerId: string, copyFrom: string, copyPath: string): Promise<VolumeView> {
    const v = this.must(name, 'get');
    if (!containerId) throw invalidArgument('container id must not be empty');
    await this.mount(v);
    if (copyFrom && copyPath && readdirSync(this.mountpoint(name)).length === 0) {
      await this.copyUp(name, copyFrom, copyPath);
    }
    if (!v.containers.includes(containerId)) {
      v.containers = [...v.containers, containerId];
      this.store.put(name, v);
      this.event('mount', name, { container: containerId, driver: 'local' });
    }
    return this.view(v);
  }

  async releaseContainer(containerId: string, removeAnonymous: boolean): Promise<string[]> {
    const removed: string[] = [];
    for (const v of this.store.values()) {
      if (!v.containers.includes(containerId)) continue;
      v.containers = v.containers.filter((c) => c !== containerId);
      this.store.put(v.name, v);
      this.event('unmount', v.name, { container: containerId, driver: 'local' });
      if (v.containers.length > 0) continue;
      await this.unmount(v);
      if (removeAnonymous && ANONYMOUS_LABEL in v.labels) {
        await this.remove(v.name, true);
        removed.push(v.name);
      }
    }
    return removed;
  }

  private async mount(v: VolumeRecord): Promise<void> {
    if (Object.keys(v.options).length === 0) return;
    const data = this.mountpoint(v.name);
    if (isMounted(data)) return;
    const { type, device, o } = v.options;
    const args = ['-t', type || 'none', device || type || 'none', data];
    let opts = o ?? '';
    if (v.options.size) opts = [opts, `size=${v.options.size}`].filter(Boolean).join(',');
    if (opts) args.push('-o', opts);
    try {
      await run('mount', args);
    } catch (err) {
      throw internal(`error while mounting volume '${data}': ${(err as { stderr?: string }).stderr?.trim() || messageOf(err)}`);
    }
  }

  private async unmount(v: VolumeRecord): Promise<void> {
    const data = this.mountpoint(v.name);
    if (Object.keys(v.options).length === 0 || !isMounted(data)) return;
    await run('umount', [data]).catch(() => run('umount', ['-l', data]));
  }

  /**
   * Docker's copy-up: a new, empty volume takes what the image has at the mount path. The
   * snapshot is mounted read-only at a private dir; the path resolves inside it.
   */
  private async copyUp(name: string, key: string, path: string): Promise<void> {
    const mounts = this.snapshotMounts(key);
    mkdirSync(this.scratch, { recursive: true, mode: 0o700 });
    const dir = mkdtempSync(join(this.scratch, `${name.slice(0, 12)}-`));
    let mounted = false;
    try {
      for (const m of mounts) {
        if (m.type === 'bind') await run('mount', ['--bind', '-o', 'ro', m.source, dir]);
        else {
          const lower = m.options.find((x) => x.startsWith('lowerdir='))?.slice('lowerdir='.length);
          const upper = m.options.find((x) => x.startsWith('upperdir='))?.slice('upperdir='.length);
          const { data, cwd } = fitMountData(['ro', `lowerdir=${[upper, lower].filter(Boolean).join(':')}`]);
          await run('mount', ['-t', 'overlay', 'overlay', dir, '-o', data], { cwd });
        }
        mounted = true;
      }
      const src = resolveInRoot(dir, path);
      if (!existsSync(src) || !statSync(src).isDirectory()) return;
      await run('cp', ['-a', '--', `${src}/.`, `${this.mountpoint(name)}/`]);
      if (this.remap) shiftToRemap(this.mountpoint(name), this.remap);
    } catch (err) {
      throw internal(`copying image data at ${path} into volume ${name}: ${(err as { stderr?: string }).stderr?.trim() || messageOf(err)}`);
    } finally {
      if (mounted) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      rmdirSync(dir);
    }
  }
}
