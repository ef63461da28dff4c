/**
 * Networks: the on-link subnet around an address (seed 003's subnet: IP, netmask, gateway, DNS, NTP).
 * A network belongs to one security zone of one cloud; pools may live inside it. Every allocation from
 * such a pool answers the network's whole NIC configuration, so no pipeline hard-codes a gateway,
 * netmask or name server. Pure types and address math; the engine stores and fences them.
 */
import { BITS, blockSize, formatAddress, parseRange, type Family } from './ip.js';
import type { Json, Tags } from './model.js';

/** A static route of the network: traffic to `to` (a CIDR) goes via `via` (an address in the network). */
export interface NetworkRoute {
  to: string;
  via: string;
}

/** What a caller states when creating (PUT) a network. */
export interface NetworkSpec {
  /** The on-link subnet, e.g. `10.20.0.0/24` or `2001:db8:1::/64`. */
  cidr: string;
  /** The default gateway; in the CIDR (IPv6: or link-local, fe80::/10). */
  gateway?: string;
  dnsServers?: string[];
  searchDomains?: string[];
  ntpServers?: string[];
  mtu?: number;
  vlan?: number;
  routes?: NetworkRoute[];
  /** The forward DNS domain of the network's hosts; owned by this network alone in the cloud. */
  dns?: { domain: string };
  tags?: Tags;
  metadata?: Record<string, Json>;
}

/** A PATCH: fields given replace the stored ones; null removes an optional one. */
export type NetworkPatch = { [K in Exclude<keyof NetworkSpec, 'cidr'>]?: NetworkSpec[K] | null };

export interface Network {
  cloud: string;
  zone: string;
  name: string;
  /** Unique per network incarnation (MAC claims are scoped by it). */
  uid: string;
  family: Family;
  /** Canonical CIDR text (the network address, e.g. `10.20.0.0/24`). */
  cidr: string;
  prefixLength: number;
  gateway?: string;
  dnsServers: string[];
  searchDomains: string[];
  ntpServers: string[];
  mtu?: number;
  vlan?: number;
  routes: NetworkRoute[];
  dns?: { domain: string };
  tags: Tags;
  metadata: Record<string, Json>;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
  requestId?: string;
}

/** The network as every allocation answer carries it (`allocation.network`). */
export interface NicNetwork {
  name: string;
  cidr: string;
  prefixLength: number;
  gateway?: string;
  dnsServers: string[];
  searchDomains: string[];
  ntpServers: string[];
  mtu?: number;
  vlan?: number;
  routes: NetworkRoute[];
}

export function nicNetwork(n: Network): NicNetwork {
  return {
    name: n.name,
    cidr: n.cidr,
    prefixLength: n.prefixLength,
    ...(n.gateway !== undefined ? { gateway: n.gateway } : {}),
    dnsServers: n.dnsServers,
    searchDomains: n.searchDomains,
    ntpServers: n.ntpServers,
    ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
    ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
    routes: n.routes,
  };
}

/**
 * Addresses of a network that are never allocatable, whatever a pool's ranges say: the network
 * address (IPv6: the subnet-router anycast address), the IPv4 broadcast address (not for /31 and /32,
 * RFC 3021), and the gateway when it lies in the network.
 */
export function reservedAddresses(n: Pick<Network, 'cidr' | 'gateway'>): bigint[] {
  const r = parseRange(n.cidr);
  const prefix = Number(n.cidr.split('/')[1] ?? BITS[r.family]);
  const out = new Set<bigint>();
  if (prefix < BITS[r.family] - (r.family === 4 ? 1 : 0)) out.add(r.start);
  if (r.family === 4 && prefix < 31) out.add(r.end);
  if (n.gateway !== undefined) {
    const g = parseRange(n.gateway);
    if (g.start >= r.start && g.start <= r.end) out.add(g.start);
  }
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The dotted netmask of an IPv4 prefix length (`24` → `255.255.255.0`). */
export function netmask(prefixLength: number): string {
  const size = blockSize(4, prefixLength);
  return formatAddress(4, ((1n << 32n) - 1n) ^ (size - 1n));
}

/** An allocation as answered: the stored record plus its network's NIC configuration, when its pool is in a network. */
export type AllocationView = import('./model.js').Allocation & { network?: NicNetwork };

/**
 * The forward DNS domain of a pool's hosts: its network's domain when the pool is in a network,
 * else the pool's own `dns.domain` (pools outside networks, as before networks existed).
 */
export function domainOf(pool: Pick<import('./model.js').Pool, 'zone' | 'network' | 'dns'>, networks: readonly Network[]): string | undefined {
  if (pool.network === undefined) return pool.dns?.domain;
  return networks.find((n) => n.zone === pool.zone && n.name === pool.network)?.dns?.domain;
}
