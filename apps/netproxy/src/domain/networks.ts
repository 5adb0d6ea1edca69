import { alreadyExists, invalidArgument, isNotFound, notFound, notImplemented, permissionDenied } from '@berth/errors';
import { newId, resolveRef } from '@berth/ids';
import { RecordStore } from '@berth/store';
import { pickSubnet } from './address-pools';
import { contains, formatCidr, formatIp, overlaps, parseCidr, parseIp, type Subnet } from './ipv4';
import type { AddressPool } from '@berth/config';

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

export interface CreateNetworkInput {
  name: string;
  driver: string;
  internal: boolean;
  enableIpv6: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipam: { subnet: string; gateway: string; ipRange: string }[];
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

  /** Like get, with Docker's wording for a network that is not there. */
  find(ref: string): NetworkRecord {
    try {
      return this.get(ref);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`network ${ref} not found`);
      throw err;
    }
  }

  /**
   * Records a user-defined bridge network. Its subnet is the one asked for or the first free one
   * of the pools; `taken` are the host's routes, which a new subnet must not shadow.
   */
  create(req: CreateNetworkInput, pools: AddressPool[], taken: string[], now = Date.now()): NetworkRecord {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(req.name)) {
      throw invalidArgument(`invalid network name "${req.name}", only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    if (this.store.values().some((n) => n.name === req.name)) throw alreadyExists(`network with name ${req.name} already exists`);
    const driver = req.driver || 'bridge';
    if (driver !== 'bridge') {
      if (['host', 'null'].includes(driver)) throw permissionDenied(`only one instance of "${driver}" network is allowed`);
      throw notFound(`plugin "${driver}" not found`);
    }
    // A client error, not 501: the request is valid Docker, but this engine refuses it up front.
    if (req.enableIpv6) throw invalidArgument('IPv6 networks are not supported by this engine: create the network without --ipv6');
    if (req.ipam.length > 1) throw notImplemented('Berth supports one IPv4 subnet per network');
    const others = this.store.values().flatMap((n) => n.ipam.map((i) => parseCidr(i.subnet)));
    const want = req.ipam[0];
    let subnet: Subnet;
    if (want?.subnet) {
      subnet = parseCidr(want.subnet, true);
      subnet = { base: parseCidr(`${formatIp(subnet.base)}/${subnet.prefix}`).base, prefix: subnet.prefix };
      if (others.some((o) => overlaps(o, subnet))) throw permissionDenied('Pool overlaps with other one on this address space');
    } else {
      subnet = pickSubnet(pools, [...others, ...taken.map((t) => parseCidr(t, true))]);
    }
    const gateway = want?.gateway || formatIp(subnet.base + 1);
    if (!contains(subnet, parseIp(gateway))) throw invalidArgument(`no matching subnet for gateway ${gateway}`);
    if (want?.ipRange) {
      const r = parseCidr(want.ipRange, true);
      if (!contains(subnet, r.base) || r.prefix < subnet.prefix) throw invalidArgument(`no matching subnet for range ${want.ipRange}`);
    }
    const id = newId();
    for (const [k, v] of Object.entries(req.options)) {
      if (k === MTU_OPTION && !/^\d+$/.test(v)) throw invalidArgument(`invalid MTU: ${v}`);
      if ((k === ICC_OPTION || k === MASQUERADE_OPTION) && !['true', 'false'].includes(v)) throw invalidArgument(`invalid value for ${k}: ${v}`);
    }
    const bridge = req.options[BRIDGE_NAME_OPTION] || `br-${id.slice(0, 12)}`;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw invalidArgument(`invalid bridge name: ${bridge}`);
    if (this.store.values().some((n) => n.bridge === bridge)) throw alreadyExists(`bridge ${bridge} is in use by another network`);
    const rec: NetworkRecord = {
      id,
      name: req.name,
      driver,
      scope: 'local',
      internal: req.internal,
      enableIpv6: false,
      options: req.options,
      labels: req.labels,
      createdUnixMs: now,
      ipam: [{ subnet: formatCidr(subnet), gateway, ipRange: want?.ipRange ?? '' }],
      bridge,
    };
    this.store.put(id, rec);
    return rec;
  }

  /** Predefined networks cannot go; the caller checks for endpoints first. */
  remove(rec: NetworkRecord): void {
    if (PREDEFINED.some((p) => p.name === rec.name) || rec.name === 'bridge') {
      throw permissionDenied(`${rec.name} is a pre-defined network and cannot be removed`);
    }
    this.store.delete(rec.id);
  }

  isPredefined(rec: NetworkRecord): boolean {
    return rec.name === 'bridge' || PREDEFINED.some((p) => p.name === rec.name);
  }
}
