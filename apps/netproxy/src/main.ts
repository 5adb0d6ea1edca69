import { messageOf } from '@berth/errors';
import { EventLog } from '@berth/events';
import { netproxyV1 } from '@berth/proto';
import { runService } from '@berth/service-main';
import { RecordStore } from '@berth/store';
import { join } from 'node:path';
import { networksService } from './api/networks-service';
import { pickSubnet } from './domain/address-pools';
import { Endpoints, type SandboxRecord } from './domain/endpoints';
import { formatCidr, formatIp, parseCidr } from './domain/ipv4';
import { EmbeddedDns } from './domain/embedded-dns';
import { NetworkAdmin } from './domain/network-admin';
import { Networks, type NetworkRecord } from './domain/networks';
import { interfaceAddress } from './kernel/links';
import { detectFirewall, tableName } from './kernel/nat-rules';
import { hostRouteDestinations } from './kernel/routes';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

const facts = { firewall: '' };

void runService({
  name: 'netproxy',
  version: VERSION,
  details: () => ({ drivers: 'bridge,host,null', firewall: facts.firewall }),
  async setup({ server, dataDir, logger, config, onClose }) {
    const store = new RecordStore<NetworkRecord>(join(dataDir, 'networks')).load((id, err) =>
      logger.error({ id, err }, 'unreadable network record'),
    );
    const networks = new Networks(store);
    networks.reconcile();
    const routes = await hostRouteDestinations();
    // As dockerd does with an existing docker0: a bridge that is already up keeps its address,
    // so a new data root on a bridge another run made adds no second subnet to it.
    const adopted = config.bip ? undefined : await interfaceAddress(config.bridge);
    networks.ensureDefaultBridge(config.bridge, () => {
      if (config.bip || adopted) {
        const b = parseCidr(config.bip ?? adopted!, true);
        if (adopted) logger.info({ bridge: config.bridge, address: adopted }, 'default bridge exists: adopting its address');
        return { subnet: formatCidr(b), gateway: formatIp(b.addr) };
      }
      const taken = [...routes, ...networks.list().flatMap((n) => n.ipam.map((i) => i.subnet))].map((c) => parseCidr(c, true));
      const s = pickSubnet(config.defaultAddressPools, taken);
      return { subnet: formatCidr(s), gateway: formatIp(s.base + 1) };
    });
    facts.firewall = config.iptables ? await detectFirewall() : 'none';
    if (facts.firewall === 'none') logger.warn('no nftables: containers get no outbound NAT and ports are not published');
    const sandboxes = new RecordStore<SandboxRecord>(join(dataDir, 'sandboxes')).load((id, err) =>
      logger.error({ id, err }, 'unreadable sandbox record'),
    );
    const events = new EventLog(config.redis);
    onClose(() => events.close());
    const event = (action: string, net: NetworkRecord, attributes: Record<string, string>) => {
      events.publish('network', action, net.id, attributes).catch((err: unknown) => logger.warn({ err, action }, 'could not publish event'));
    };
    const endpoints = new Endpoints(sandboxes, networks, {
      netnsDir: join(config.execRoot, 'netns'),
      table: tableName(config.bridge),
      mtu: config.mtu,
      firewall: facts.firewall as 'nftables' | 'none',
      logger,
      event,
    });
    await endpoints.reconcile();
    const dns = new EmbeddedDns((net, name) => endpoints.resolve(net, name), logger, (net, ip) => endpoints.upstreamsOf(net, ip));
    onClose(() => dns.close());
    const admin = new NetworkAdmin(networks, endpoints, config, dns, event);
    for (const n of networks.list()) await admin.serveDns(n).catch((err: unknown) => logger.error({ network: n.name, err: messageOf(err) }, 'embedded DNS did not start'));
    server.add<netproxyV1.NetworksServer>('berth.netproxy.v1', netproxyV1.NetworksService, networksService(networks, endpoints, admin));
  },
});
