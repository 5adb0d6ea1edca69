import { resolveRef } from '@berth/ids';
import { RecordStore } from '@berth/store';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** A container as the supervisor records it. The create body is kept whole so nothing is lost. */
export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  createdUnixMs: number;
  startedUnixMs: number;
  finishedUnixMs: number;
  labels: Record<string, string>;
  /** Engine API create body (Config + HostConfig + NetworkingConfig). */
  config: unknown;
}

const LIVE: ReadonlySet<ContainerStatus> = new Set(['running', 'paused', 'restarting']);

export class Containers {
  constructor(private readonly store: RecordStore<ContainerRecord>) {}

  /** `docker ps` shows live containers; `-a` shows every one, newest first. */
  list(all: boolean): ContainerRecord[] {
    return this.store
      .values()
      .filter((c) => all || LIVE.has(c.status))
      .sort((a, b) => b.createdUnixMs - a.createdUnixMs);
  }

  get(ref: string): ContainerRecord {
    return resolveRef(this.store.values(), ref, 'container');
  }
}
