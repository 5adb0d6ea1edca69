import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@berth/errors';
import { newId } from '@berth/ids';
import { RecordStore } from '@berth/store';
import { applyLayer, type WhiteoutStyle } from './apply-layer';
import { dirSize } from './dir-size';

export type Kind = 'view' | 'active' | 'committed';

export interface Mount {
  type: string;
  source: string;
  options: string[];
}

/** Metadata of one snapshot. `key` is the active key or, once committed, the name. */
export interface SnapshotRecord {
  id: string;
  key: string;
  parent: string;
  kind: Kind;
  labels: Record<string, string>;
  createdUnixMs: number;
}

/** How a driver lays out and mounts snapshot directories; the Snapshotter keeps the metadata. */
export interface SnapshotDriver {
  readonly name: string;
  /** How deletions are written: overlay whiteouts in an upper dir, or removal from a full copy. */
  readonly whiteouts: WhiteoutStyle;
  /** Fills a new snapshot's directory from its parent chain (bottom last), if the driver copies. */
  populate(dir: string, parents: string[]): void;
  /** Mounts that give the snapshot's tree: `dir` is the snapshot's own, `parents` nearest first. */
  mounts(dir: string, parents: string[], kind: Kind): Mount[];
}

/**
 * Snapshots, as containerd's snapshotter models them: active (writable, by key), view
 * (read-only, by key) and committed (read-only, by name, can be a parent). See the
 * contract's comments in proto/berth/snapshotter/v1 for the lifecycle.
 *
 * Crash safety: a snapshot's directories are created before its record, and its record is
 * removed before its directories, so a record never points at nothing; directories with no
 * record are removed at start-up.
 */
export class Snapshotter {
  private readonly root: string;
  private readonly store: RecordStore<SnapshotRecord>;

  constructor(dataDir: string, readonly driver: SnapshotDriver) {
    this.root = join(dataDir, driver.name);
    this.store = new RecordStore<SnapshotRecord>(join(this.root, 'metadata'));
  }

  /** Loads metadata and removes what a crash left half-made. Returns the number of orphans removed. */
  reconcile(): number {
    this.store.load();
    const dirs = join(this.root, 'snapshots');
    mkdirSync(dirs, { recursive: true });
    const known = new Set(this.store.values().map((r) => r.id));
    let removed = 0;
    for (const d of readdirSync(dirs)) {
      if (!known.has(d)) {
        rmSync(join(dirs, d), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  private dir(id: string): string {
    return join(this.root, 'snapshots', id);
  }

  private find(key: string): SnapshotRecord | undefined {
    return this.store.values().find((r) => r.key === key);
  }

  stat(key: string): SnapshotRecord {
    const r = this.find(key);
    if (!r) throw notFound(`snapshot ${key} does not exist`);
    return r;
  }

  list(): SnapshotRecord[] {
    return this.store.values();
  }

  /** Parent chain of committed snapshots, nearest first. */
  private chain(parent: string): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (let p = parent; p !== ''; ) {
      const r = this.find(p);
      if (!r) throw notFound(`parent snapshot ${p} does not exist`);
      if (r.kind !== 'committed') throw invalidArgument(`parent ${p} is not a committed snapshot`);
      out.push(r);
      p = r.parent;
    }
    return out;
  }

  private create(kind: Kind, key: string, parent: string, labels: Record<string, string>): Mount[] {
    if (!key) throw invalidArgument('snapshot key must not be empty');
    if (this.find(key)) throw alreadyExists(`snapshot ${key} already exists`);
    const parents = this.chain(parent).map((r) => join(this.dir(r.id), 'fs'));
    const id = newId().slice(0, 24);
    const dir = this.dir(id);
    mkdirSync(join(dir, 'fs'), { recursive: true, mode: 0o755 });
    if (kind === 'active') mkdirSync(join(dir, 'work'), { mode: 0o700 });
    this.driver.populate(join(dir, 'fs'), parents);
    this.store.put(id, { id, key, parent, kind, labels, createdUnixMs: Date.now() });
    return this.driver.mounts(dir, parents, kind);
  }

  prepare(key: string, parent: string, labels: Record<string, string> = {}): Mount[] {
    return this.create('active', key, parent, labels);
  }

  view(key: string, parent: string, labels: Record<string, string> = {}): Mount[] {
    return this.create('view', key, parent, labels);
  }

  mounts(key: string): Mount[] {
    const r = this.stat(key);
    return this.driver.mounts(this.dir(r.id), this.chain(r.parent).map((p) => join(this.dir(p.id), 'fs')), r.kind);
  }

  /** Unpacks a layer into an active snapshot (see the contract for the rules). */
  async applyLayer(key: string, blobPath: string): Promise<{ diffId: string; size: number }> {
    const r = this.stat(key);
    if (r.kind !== 'active') throw failedPrecondition(`snapshot ${key} is not active`);
    return applyLayer(join(this.dir(r.id), 'fs'), blobPath, this.driver.whiteouts);
  }

  /**
   * The directories a diff of an active snapshot is read from: its own and its parents',
   * nearest first, and how they hold the changes: overlay keeps exactly the changes in the
   * snapshot's own (upper) dir; a full-copy driver is compared against its parent's tree.
   */
  diffDirs(key: string): { upper: string; lowers: string[]; style: WhiteoutStyle } {
    const r = this.stat(key);
    if (r.kind !== 'active') throw failedPrecondition(`snapshot ${key} is not active`);
    return { upper: join(this.dir(r.id), 'fs'), lowers: this.chain(r.parent).map((p) => join(this.dir(p.id), 'fs')), style: this.driver.whiteouts };
  }

  /** Bytes in the snapshot's own directory (for overlay, what it changed over its parents). */
  usage(key: string): number {
    return dirSize(join(this.dir(this.stat(key).id), 'fs'));
  }

  /** Turns an active snapshot into a committed one named `name`; its work dir is dropped. */
  commit(name: string, key: string, labels: Record<string, string> = {}): SnapshotRecord {
    const r = this.stat(key);
    if (r.kind !== 'active') throw failedPrecondition(`snapshot ${key} is not active`);
    if (this.find(name)) throw alreadyExists(`snapshot ${name} already exists`);
    const committed: SnapshotRecord = { ...r, key: name, kind: 'committed', labels: { ...r.labels, ...labels } };
    this.store.put(r.id, committed);
    rmSync(join(this.dir(r.id), 'work'), { recursive: true, force: true });
    return committed;
  }

  remove(key: string): void {
    const r = this.stat(key);
    const child = this.store.values().find((c) => c.parent === key);
    if (child) throw failedPrecondition(`cannot remove snapshot ${key}: snapshot ${child.key} depends on it`);
    this.store.delete(r.id);
    rmSync(this.dir(r.id), { recursive: true, force: true });
  }
}
