/**
 * The network item: `CLOUD#<cloud>` / `NET#<zone>#<name>`, in its cloud's partition next to the pools,
 * so the one Query that lists the pools (and reads the cloud version they are fenced on) lists the
 * networks too. Written only in transactions with the cloud version fence.
 */
import type { Network } from '../../core/network.js';
import { keys } from '../keys.js';
import { dynamoItem, pick, type Item } from './item.js';

const NETWORK_FIELDS = ['cloud', 'zone', 'name', 'uid', 'family', 'cidr', 'prefixLength', 'gateway', 'dnsServers', 'searchDomains', 'ntpServers', 'mtu', 'vlan', 'routes', 'dns', 'tags', 'metadata', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy', 'requestId'] as const;

export const NetworkEntity = {
  key: (n: Pick<Network, 'cloud' | 'zone' | 'name'>) => keys.network(n.cloud, n.zone, n.name),
  toItem(n: Network): Item {
    return dynamoItem({ ...keys.network(n.cloud, n.zone, n.name), type: 'network', ...n });
  },
  fromItem(i: Item): Network {
    const out = pick(i, NETWORK_FIELDS);
    out.family = Number(out.family);
    out.prefixLength = Number(out.prefixLength);
    for (const k of ['dnsServers', 'searchDomains', 'ntpServers', 'routes'] as const) out[k] ??= [];
    out.tags ??= {};
    out.metadata ??= {};
    return out as Network;
  },
};
