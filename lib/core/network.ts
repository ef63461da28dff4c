/**
 * Networks: the on-link subnet around an address (seed 003's subnet: IP, netmask, gateway, DNS, NTP).
 * A network belongs to one security zone of one cloud; pools may live inside it. Every allocation from
 * such a pool answers the network's whole NIC configuration, so no pipeline hard-codes a gateway,
 * netmask or name server. Pure types and address math; the engine stores and fences them.
 */
import { invalid, IpamError } from './errors.js';
import { BITS, blockSize, formatAddress, overlaps, parseAddress, parseCidr, parseRange, type Family, type ParsedRange } from './ip.js';
import { stableJson } from './json.js';
import type { Json, Tags } from './model.js';
import { checkDns, checkDomain, checkMetadata, checkTags, HOSTNAME_RE } from './validate.js';

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

/**
 * A PATCH: fields given replace the stored ones; null removes an optional one. `cidr` and `gateway`
 * change only while no pool uses the network (their reserved addresses are part of the pools' geometry).
 */
export type NetworkPatch = { [K in Exclude<keyof NetworkSpec, 'cidr'>]?: NetworkSpec[K] | null } & { cidr?: string };

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

/** The network as every allocation answer carries it (`allocation.network`): the NIC's part of a Network. */
export type NicNetwork = Pick<Network, 'name' | 'cidr' | 'prefixLength' | 'gateway' | 'dnsServers' | 'searchDomains' | 'ntpServers' | 'mtu' | 'vlan' | 'routes'>;

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

// ---------------------------------------------------------------- validation (pure)

/** How long a network's lists may be. */
export const NETWORK_LIMITS = { dnsServers: 8, ntpServers: 8, searchDomains: 8, routes: 64 } as const;

/** The largest network per family (as for a pool's range): a network is an on-link subnet, not an address plan. */
const MIN_PREFIX: Record<Family, number> = { 4: 8, 6: 32 };

/** A network's settings, validated and in canonical form (what the engine stores besides names and stamps). */
export type NetworkFields = Pick<Network, 'family' | 'cidr' | 'prefixLength' | 'gateway' | 'dnsServers' | 'searchDomains' | 'ntpServers' | 'mtu' | 'vlan' | 'routes' | 'dns' | 'tags' | 'metadata'>;

const LINK_LOCAL6 = parseRange('fe80::/10');
const within = (v: bigint, r: { start: bigint; end: bigint }) => v >= r.start && v <= r.end;

function list(what: string, v: unknown, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${what} must be a list`);
  if (v.length > max) throw invalid(`at most ${max} ${what}`);
  return v;
}

function unique<T>(what: string, xs: T[], key: (x: T) => string = String): T[] {
  const seen = new Set<string>();
  for (const x of xs) {
    if (seen.has(key(x))) throw invalid(`${what} names ${key(x)} twice`);
    seen.add(key(x));
  }
  return xs;
}

/** An address of the network: in its CIDR or (IPv6) link-local, in canonical form. */
function onLink(what: string, text: unknown, net: { family: Family; start: bigint; end: bigint; text: string }): string {
  if (typeof text !== 'string') throw invalid(`${what} must be an IP address`);
  const a = parseAddress(text);
  if (a.family !== net.family) throw invalid(`${what} ${text} is IPv${a.family}; network ${net.text} is IPv${net.family}`);
  if (!within(a.value, net) && !(a.family === 6 && within(a.value, LINK_LOCAL6))) {
    throw invalid(`${what} ${text} is not in ${net.text}${net.family === 6 ? ' (nor link-local, fe80::/10)' : ''}`);
  }
  return formatAddress(a.family, a.value);
}

function whole(what: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`${what} must be an integer from ${min} to ${max}`);
  return v;
}

/** An NTP server: an address (IPv4-mapped refused as everywhere) or a host name. */
function ntpServer(v: unknown): string {
  if (typeof v === 'string' && (v.includes(':') || /^[\d.]+$/.test(v))) {
    const a = parseAddress(v);
    return formatAddress(a.family, a.value);
  }
  if (typeof v !== 'string' || !HOSTNAME_RE.test(v)) throw invalid(`ntpServers entries are IP addresses or host names; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v.toLowerCase().replace(/\.$/, '');
}

/**
 * Validates a network's definition (PUT, or a stored one with a PATCH applied) and puts it in canonical
 * form. Every refusal is a 400 that says what to send instead.
 */
export function checkNetworkSpec(spec: NetworkSpec): NetworkFields {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalid('a network is a JSON object with at least cidr');
  const net = parseCidr(spec.cidr);
  const { family, prefixLength } = net;
  if (prefixLength < MIN_PREFIX[family]) throw invalid(`cidr ${net.text} is larger than the limit of a /${MIN_PREFIX[family]} per network`);
  let gateway: string | undefined;
  if (spec.gateway !== undefined) {
    gateway = onLink('gateway', spec.gateway, net);
    const g = parseAddress(gateway).value;
    if (family === 4 && prefixLength < 31 && (g === net.start || g === net.end)) throw invalid(`gateway ${gateway} is the ${g === net.start ? 'network' : 'broadcast'} address of ${net.text}`);
  }
  const routes = unique(
    'routes',
    list('routes', spec.routes, NETWORK_LIMITS.routes).map((r, i) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r) || Object.keys(r).some((k) => k !== 'to' && k !== 'via')) throw invalid(`routes[${i}] must be {"to": "<CIDR>", "via": "<address>"}`);
      const { to, via } = r as Partial<NetworkRoute>;
      const dest = parseCidr(to as string, `routes[${i}].to`, true);
      if (dest.family !== family) throw invalid(`routes[${i}].to ${dest.text} is IPv${dest.family}; network ${net.text} is IPv${family}`);
      return { to: dest.text, via: onLink(`routes[${i}].via`, via, net) };
    }),
    (r) => r.to,
  );
  const dnsServers = unique(
    'dnsServers',
    list('dnsServers', spec.dnsServers, NETWORK_LIMITS.dnsServers).map((v) => {
      if (typeof v !== 'string') throw invalid('dnsServers entries are IP addresses');
      const a = parseAddress(v);
      return formatAddress(a.family, a.value);
    }),
  );
  const ntpServers = unique('ntpServers', list('ntpServers', spec.ntpServers, NETWORK_LIMITS.ntpServers).map(ntpServer));
  const searchDomains = unique('searchDomains', list('searchDomains', spec.searchDomains, NETWORK_LIMITS.searchDomains).map((d) => checkDomain('searchDomains entries', d, false)));
  const mtu = whole('mtu', spec.mtu, family === 6 ? 1280 : 68, 9216);
  const vlan = whole('vlan', spec.vlan, 1, 4094);
  const dns = checkDns(spec.dns);
  return {
    family,
    cidr: net.text,
    prefixLength,
    ...(gateway !== undefined ? { gateway } : {}),
    dnsServers,
    searchDomains,
    ntpServers,
    ...(mtu !== undefined ? { mtu } : {}),
    ...(vlan !== undefined ? { vlan } : {}),
    routes,
    ...(dns ? { dns } : {}),
    tags: checkTags(spec.tags),
    metadata: checkMetadata(spec.metadata),
  };
}

/** The stored network with a PATCH applied (fields given replace, null removes), validated as a whole. */
export function patchedNetwork(prev: NetworkFields, patch: NetworkPatch): NetworkFields {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw invalid('a network PATCH is a JSON object');
  const spec: Record<string, unknown> = { ...prev };
  for (const k of Object.keys(patch) as (keyof NetworkPatch)[]) {
    if (!PATCHABLE.has(k)) throw invalid(`${JSON.stringify(k).slice(0, 40)} cannot be changed by PATCH (it takes ${[...PATCHABLE].join(', ')})`);
    const v = patch[k];
    if (v === null) delete spec[k];
    else if (v !== undefined) spec[k] = v;
  }
  return checkNetworkSpec(spec as unknown as NetworkSpec);
}

const PATCHABLE = new Set<string>(['cidr', 'gateway', 'dnsServers', 'searchDomains', 'ntpServers', 'mtu', 'vlan', 'routes', 'dns', 'tags', 'metadata']);

/** The definition of a network as PUT compares it (an identical PUT answers the existing network). */
export const networkDefinition = (n: NetworkFields) => stableJson({ cidr: n.cidr, gateway: n.gateway, dnsServers: n.dnsServers, searchDomains: n.searchDomains, ntpServers: n.ntpServers, mtu: n.mtu, vlan: n.vlan, routes: n.routes, dns: n.dns, tags: n.tags, metadata: n.metadata });

// ---------------------------------------------------------------- pools inside networks

/** A pool's ranges inside its network: same family, every range within the CIDR (400 otherwise). */
export function checkRangesInNetwork(family: Family, ranges: readonly ParsedRange[], n: Pick<Network, 'name' | 'family' | 'cidr'>): void {
  if (family !== n.family) throw invalid(`network ${n.name} is IPv${n.family} (${n.cidr}); the pool holds IPv${family} addresses`);
  const net = parseRange(n.cidr);
  const out = ranges.find((r) => r.start < net.start || r.end > net.end);
  if (out) throw invalid(`range ${out.text} is not inside network ${n.name} (${n.cidr})`);
}

/** reservedAddresses() as text, as a pool in the network stores them. */
export const reservedTexts = (n: Pick<Network, 'family' | 'cidr' | 'gateway'>) => reservedAddresses(n).map((v) => formatAddress(n.family, v));

// ---------------------------------------------------------------- domain ownership

/** Who owns a forward domain: a network's `dns.domain`, or the own `dns.domain` of a pool outside networks. */
export interface DomainOwner {
  zone: string;
  kind: 'network' | 'pool';
  name: string;
  family: Family;
  domain: string;
}

/** Every domain owner of a cloud, from its pools and networks. */
export function domainOwners(pools: readonly Pick<import('./model.js').Pool, 'zone' | 'name' | 'family' | 'dns' | 'network'>[], networks: readonly Pick<Network, 'zone' | 'name' | 'family' | 'dns'>[]): DomainOwner[] {
  const out: DomainOwner[] = [];
  for (const n of networks) if (n.dns) out.push({ zone: n.zone, kind: 'network', name: n.name, family: n.family, domain: n.dns.domain });
  for (const p of pools) if (p.dns && p.network === undefined) out.push({ zone: p.zone, kind: 'pool', name: p.name, family: p.family, domain: p.dns.domain });
  return out;
}

const under = (child: string, parent: string) => child.endsWith(`.${parent}`);

/**
 * A claim of `claim.domain` by a network or pool: refused (409 DomainTaken) when another owner of the
 * cloud has the same domain (one IPv4 and one IPv6 owner of the same zone may share it: dual stack),
 * or when an owner in another zone has a parent or a subdomain of it. Another zone's owner is never named.
 */
export function checkDomainClaim(claim: DomainOwner, owners: readonly DomainOwner[]): void {
  for (const o of owners) {
    if (o.zone === claim.zone && o.kind === claim.kind && o.name === claim.name) continue;
    const same = o.domain === claim.domain;
    if (same && o.zone === claim.zone && o.family !== claim.family) continue;
    if (!same && (o.zone === claim.zone || !(under(o.domain, claim.domain) || under(claim.domain, o.domain)))) continue;
    if (o.zone === claim.zone) throw new IpamError('DomainTaken', `domain ${claim.domain} belongs to ${o.kind} ${o.zone}/${o.name}; a domain belongs to one network or pool per address family`, { domain: claim.domain, [o.kind]: o.name, zone: o.zone });
    const how = same ? 'belongs to' : under(claim.domain, o.domain) ? 'is a subdomain of a domain of' : 'is a parent of a domain of';
    throw new IpamError('DomainTaken', `domain ${claim.domain} ${how} another zone of the cloud`, { domain: claim.domain });
  }
}

// ---------------------------------------------------------------- overlap

/**
 * A network's CIDR against the cloud: no other network (any zone) may overlap it (the other is named
 * only when it is in the same zone), and no pool of another zone may have addresses in it. Pools of
 * the same zone may: they are moved into the network afterwards (PATCH network).
 */
export function checkNetworkOverlap(n: Pick<Network, 'cloud' | 'zone' | 'name' | 'uid' | 'cidr'>, pools: readonly Pick<import('./model.js').Pool, 'zone' | 'ranges'>[], networks: readonly Pick<Network, 'zone' | 'name' | 'uid' | 'cidr'>[]): void {
  const net = parseRange(n.cidr);
  for (const o of networks) {
    if (o.uid === n.uid) continue;
    const r = parseRange(o.cidr);
    if (r.family !== net.family || !overlaps(r, net)) continue;
    if (o.zone === n.zone) throw new IpamError('NetworkOverlap', `network ${n.cidr} overlaps network ${o.zone}/${o.name} (${o.cidr}) of cloud ${n.cloud}`, { network: o.name, zone: o.zone, cidr: o.cidr });
    throw new IpamError('NetworkOverlap', `network ${n.cidr} overlaps a network of another zone of cloud ${n.cloud}`, { cidr: n.cidr });
  }
  for (const p of pools) {
    if (p.zone === n.zone) continue;
    if (p.ranges.some((t) => overlapsText(t, net))) throw new IpamError('NetworkOverlap', `network ${n.cidr} overlaps addresses of another zone of cloud ${n.cloud}`, { cidr: n.cidr });
  }
}

/** A pool's ranges against the networks of other zones: a zone's pool never has addresses in another zone's network. */
export function checkOutsideForeignNetworks(cloud: string, zone: string, ranges: readonly ParsedRange[], networks: readonly Pick<Network, 'zone' | 'cidr'>[]): void {
  for (const o of networks) {
    if (o.zone === zone) continue;
    const net = parseRange(o.cidr);
    const hit = ranges.find((r) => r.family === net.family && overlaps(r, net));
    if (hit) throw new IpamError('NetworkOverlap', `range ${hit.text} overlaps a network of another zone of cloud ${cloud}`, { range: hit.text });
  }
}

function overlapsText(text: string, net: ParsedRange): boolean {
  const r = parseRange(text);
  return r.family === net.family && overlaps(r, net);
}
