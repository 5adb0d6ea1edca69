import { alreadyExists, invalidArgument } from '@berth/errors';
import { resolveRef } from '@berth/ids';
import { RecordStore } from '@berth/store';
import type { ContainerRecord, Status } from './model';

export type { ContainerRecord } from './model';

const LIVE: ReadonlySet<Status> = new Set(['running', 'paused', 'restarting']);
const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The container records and the queries on them; the only writer of `<data>/containers`. */
export class Containers {
  constructor(private readonly store: RecordStore<ContainerRecord>) {}

  /** `docker ps` shows live containers; `-a` shows every one, newest first. */
  list(all: boolean): ContainerRecord[] {
    return this.store
      .values()
      .filter((c) => all || LIVE.has(c.state.Status))
      .sort((a, b) => b.created.localeCompare(a.created));
  }

  get(ref: string): ContainerRecord {
    return resolveRef(
      this.store.values().map((c) => ({ ...c, id: c.id, name: c.name })),
      ref,
      'container',
    );
  }

  /** The live record (not a copy) for updates by the lifecycle. */
  byId(id: string): ContainerRecord | undefined {
    return this.store.get(id);
  }

  all(): ContainerRecord[] {
    return this.store.values();
  }

  /** A record of this id exists, even one unreadable at load (see RecordStore.claims). */
  claims(id: string): boolean {
    return this.store.claims(id);
  }

  /** Docker's name rule and uniqueness, with its exact messages. */
  checkName(name: string, selfId?: string): string {
    if (!NAME.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const bare = name.replace(/^\//, '');
    const other = this.store.values().find((c) => c.name === bare && c.id !== selfId);
    if (other) {
      throw alreadyExists(
        `Conflict. The container name "/${bare}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    return bare;
  }

  save(rec: ContainerRecord): void {
    this.store.put(rec.id, rec);
  }

  remove(id: string): void {
    this.store.delete(id);
  }
}
