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
  /** The bridge interface of a bridge network. */
  bridge?: string;
}

export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
export const MTU_OPTION = 'com.docker.network.driver.mtu';

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

  /**
   * Makes sure the default bridge network exists on `bridge` with a subnet; `pick` chooses the
   * subnet the first time (from --bip or the address pools), and it is kept from then on.
   */
  ensureDefaultBridge(bridge: string, pick: () => { subnet: string; gateway: string }, now = Date.now()): NetworkRecord {
    const existing = this.store.values().find((n) => n.name === 'bridge');
    if (existing && existing.bridge === bridge) return existing;
    const { subnet, gateway } = pick();
    const rec: NetworkRecord = {
      id: existing?.id ?? newId(),
      name: 'bridge',
      driver: 'bridge',
      scope: 'local',
      internal: false,
      enableIpv6: false,
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        [ICC_OPTION]: 'true',
        [MASQUERADE_OPTION]: 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        [BRIDGE_NAME_OPTION]: bridge,
      },
      labels: {},
      createdUnixMs: existing?.createdUnixMs ?? now,
      ipam: [{ subnet, gateway, ipRange: '' }],
      bridge,
    };
    this.store.put(rec.id, rec);
    return rec;
  }

  byId(id: string): NetworkRecord | undefined {
    return this.store.get(id);
  }

  list(): NetworkRecord[] {
    return this.store.values().sort((a, b) => a.name.localeCompare(b.name));
  }

  get(ref: string): NetworkRecord {
    return resolveRef(this.store.values(), ref, 'network');
  }
}
