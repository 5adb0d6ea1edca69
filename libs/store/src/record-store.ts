import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isTempName, removeFileDurable, writeFileAtomic } from './atomic-file';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/**
 * A directory of JSON records, one file per id, each replaced atomically. Records are kept in
 * memory after `load()`; the owner service is the only writer, so memory and disk agree.
 */
export class RecordStore<T> {
  private readonly records = new Map<string, T>();
  private readonly unreadable = new Set<string>();

  constructor(private readonly dir: string) {}

  /** Reads every record; temp files from an interrupted write are removed, unreadable files reported. */
  load(onCorrupt?: (id: string, err: unknown) => void): this {
    mkdirSync(this.dir, { recursive: true });
    this.records.clear();
    this.unreadable.clear();
    for (const name of readdirSync(this.dir)) {
      if (isTempName(name)) {
        unlinkSync(join(this.dir, name));
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      try {
        this.records.set(id, JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as T);
      } catch (err) {
        this.unreadable.add(id);
        onCorrupt?.(id, err);
      }
    }
    return this;
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  /**
   * Whether a record of this id is on disk, read or not: one that could not be parsed at load
   * is still somebody's, and what it names must not be collected as an orphan's.
   */
  claims(id: string): boolean {
    return this.records.has(id) || this.unreadable.has(id);
  }

  values(): T[] {
    return [...this.records.values()];
  }

  entries(): [string, T][] {
    return [...this.records.entries()];
  }

  get size(): number {
    return this.records.size;
  }

  put(id: string, record: T): void {
    if (!ID_PATTERN.test(id)) throw new Error(`invalid record id: ${JSON.stringify(id)}`);
    writeFileAtomic(join(this.dir, `${id}.json`), JSON.stringify(record, null, 2));
    this.records.set(id, record);
  }

  delete(id: string): boolean {
    if (!this.records.has(id)) return false;
    removeFileDurable(join(this.dir, `${id}.json`));
    this.records.delete(id);
    return true;
  }
}
