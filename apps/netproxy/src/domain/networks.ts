import { newId, resolveRef } from '@berth/ids';
import { RecordStore } from '@berth/store';

export interface NetworkRecord {
  id: string;
  name: string;
  driver: string;
  scope: 'local';
  internal: boolean;
  enableIpv6: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  createdUnixMs: number;
  ipam: { subnet: string; gateway: string; ipRange: string }[];
}

/** Networks Docker always has that need no kernel set-up: `host` shares the host's stack, `none` has only lo. */
const PREDEFINED: { name: string; driver: string }[] = [
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
];

export class Networks {
  constructor(private readonly store: RecordStore<NetworkRecord>) {}

  /** Creates any predefined network that is missing; IDs stay stable across restarts. */
  reconcile(now = Date.now()): void {
    for (const p of PREDEFINED) {
      if (this.store.values().some((n) => n.name === p.name)) continue;
      const rec: NetworkRecord = {
        id: newId(),
        name: p.name,
        driver: p.driver,
        scope: 'local',
        internal: false,
        enableIpv6: false,
        options: {},
        labels: {},
        createdUnixMs: now,
        ipam: [],
      };
      this.store.put(rec.id, rec);
    }
  }

  list(): NetworkRecord[] {
    return this.store.values().sort((a, b) => a.name.localeCompare(b.name));
  }

  get(ref: string): NetworkRecord {
    return resolveRef(this.store.values(), ref, 'network');
  }
}
