/**
 * DHCP per network (seed 003's restricted mode): every IPv4 network of a cloud is one DHCP subnet
 * with its options (router, DNS servers, domain, search domains, NTP servers, MTU), and every single
 * IPv4 allocation with a MAC in a pool inside that network is a host reservation. There is no dynamic
 * pool, so a client whose MAC is not reserved gets nothing.
 *
 * Safety rules (issue 11): subnets come from networks only, never inferred from pools, so nothing is
 * merged across security zones and one zone's data can never drop or move another zone's reservation.
 * - A pool takes part only when it names a network of its own zone (`pool.network`, matched on zone
 *   and name) and that network is IPv4. Pools outside networks are not exported: a pool does not know
 *   its on-link subnet, netmask or gateway, and guessing them (the smallest CIDR around its ranges)
 *   is the inference that let one zone's pool swallow another zone's subnet. They are named in the
 *   output (a `# not exported` comment; Kea: `user-context.ipam.notExported`). Put them in a network.
 * - Every reservation is re-checked here, whatever the stored data says: the allocation must belong
 *   to the pool it was read from, be one IPv4 address inside the network's CIDR and not one of its
 *   reserved addresses (network, broadcast, gateway), and carry a well-formed MAC. A MAC or an address
 *   is reserved once per subnet (the first in pool and address order wins; the others are named as
 *   skipped). The same MAC in two networks is two reservations, one per subnet, and a server picks the
 *   one of the subnet the request arrives on.
 * - Every text written is rebuilt from parsed values (addresses formatted again, MACs normalised,
 *   names checked against the DNS name syntax), so stored text cannot inject configuration lines.
 * - The host name given to a client is its label plus the network's DNS domain, or its FQDN when that
 *   lies in the network's domain; any other name (another zone's, or any FQDN in a network without a
 *   domain) is left out rather than handed out.
 * IPv6 is out of scope (DHCPv6 identifies clients by DUID, not MAC); so are blocks (a reservation is
 * one address). DHCPv4 options carry IPv4 addresses only: a network's IPv6 DNS or NTP servers, and NTP
 * servers given by name, are left out.
 *
 * Formats:
 * - `kea`: `{"subnet4": [...], "user-context": {...}}`, a Dhcp4 fragment. One `subnet4` entry per IPv4
 *   network: a stable `id` (hash of cloud and CIDR), `subnet`, `option-data`, `reservations`
 *   (`{"hw-address", "ip-address", "hostname"}`) and no `pools`.
 * - `dnsmasq`: per network `dhcp-range=set:<zone>.<network>,<network address>,static,<netmask>`, the
 *   options as `dhcp-option=tag:<zone>.<network>,option:...` lines (router and dns-server always, empty
 *   when unset, so dnsmasq never offers itself instead), `domain=<domain>,<cidr>`, and `dhcp-host` lines.
 */
import type { Ipam } from '../engine/ipam.js';
import { formatAddress, parseAddress, parseRange } from '../core/ip.js';
import { holderText, holderOf, type Allocation, type Pool } from '../core/model.js';
import { netmask, reservedAddresses, type Network } from '../core/network.js';
import { checkName, DOMAIN_RE, HOSTNAME_RE, MAC_RE, NAME_RE } from '../core/validate.js';

export type DhcpFormat = 'kea' | 'dnsmasq';

export interface DhcpFilter {
  zone?: string;
  network?: string;
  pool?: string;
}

export interface DhcpOptions extends DhcpFilter {
  format: DhcpFormat;
}

/** One DHCP subnet: an IPv4 network and the pools inside it. */
export interface DhcpSubnet {
  network: Network;
  /** The network's CIDR, as parsed and formatted again. */
  subnet: string;
  start: bigint;
  end: bigint;
  /** Kea's subnet id: stable for the cloud and CIDR, whatever the filter. */
  id: number;
  /** dnsmasq's tag: `<zone>.<network>` (names have no dot, so it is unambiguous). */
  tag: string;
  pools: Pool[];
  options: DhcpNetworkOptions;
}

/** The DHCPv4 options of a network, each already checked and formatted. */
export interface DhcpNetworkOptions {
  routers?: string;
  dnsServers: string[];
  domainName?: string;
  searchDomains: string[];
  ntpServers: string[];
  mtu?: number;
}

/** A selected pool or network that is not exported, and why. */
export interface NotExported {
  pool?: string;
  network?: string;
  reason: string;
}

export interface DhcpPlan {
  subnets: DhcpSubnet[];
  notExported: NotExported[];
}

export interface Reservation {
  mac: string;
  address: string;
  hostname?: string;
  holder: string;
}

export interface Skipped {
  address: string;
  holder: string;
  reason: string;
}

/** A stable Kea subnet id (1 .. 2^32-2) for a cloud's subnet: FNV-1a, probed past collisions. */
export function keaSubnetId(cloud: string, subnet: string, taken: Set<number> = new Set()): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(`${cloud}/${subnet}`)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let id = (h % 0xfffffffe) + 1;
  while (taken.has(id)) id = (id % 0xfffffffe) + 1;
  taken.add(id);
  return id;
}

const tryParse = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch {
    return undefined;
  }
};

/** An IPv4 address text, formatted again; undefined for anything else. */
function ipv4(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const a = tryParse(() => parseAddress(text));
  return a?.family === 4 ? a.value : undefined;
}

/** Stored text shown in a comment: anything but name and address characters becomes `?`, so it cannot end the comment. */
const shown = (t: unknown): string => String(t).replace(/[^A-Za-z0-9._:/-]/g, '?').slice(0, 130);

const v4list = (xs: readonly unknown[] | undefined): string[] => [...new Set((xs ?? []).map(ipv4).filter((v): v is bigint => v !== undefined).map((v) => formatAddress(4, v)))];
const domainName = (d: unknown): string | undefined => (typeof d === 'string' && DOMAIN_RE.test(d) ? d.replace(/\.$/, '').toLowerCase() : undefined);

/** A network's options as DHCPv4 can carry them: IPv4 addresses only, names that are DNS names, a sane MTU. */
export function networkOptions(n: Network, start: bigint, end: bigint): DhcpNetworkOptions {
  const gw = ipv4(n.gateway);
  const reserved = new Set(reservedAddresses({ cidr: n.cidr }));
  const mtu = typeof n.mtu === 'number' && Number.isInteger(n.mtu) && n.mtu >= 68 && n.mtu <= 65535 ? n.mtu : undefined;
  const domain = domainName(n.dns?.domain);
  return {
    // The router must be on the link: inside the CIDR, and not its network or broadcast address.
    ...(gw !== undefined && gw >= start && gw <= end && !reserved.has(gw) ? { routers: formatAddress(4, gw) } : {}),
    dnsServers: v4list(n.dnsServers),
    ...(domain ? { domainName: domain } : {}),
    searchDomains: [...new Set((n.searchDomains ?? []).map(domainName).filter((d): d is string => d !== undefined))],
    ntpServers: v4list(n.ntpServers),
    ...(mtu !== undefined ? { mtu } : {}),
  };
}

/**
 * The subnets to export: the cloud's IPv4 networks that pass the filter, each with the pools of its
 * zone that name it. Pure: the same networks and pools always give the same plan.
 */
export function dhcpPlan(cloud: string, networks: readonly Network[], pools: readonly Pool[], filter: DhcpFilter = {}): DhcpPlan {
  // Ids over every IPv4 network of the cloud, in address order, so a filter never changes an id.
  const v4 = networks
    // Names become dnsmasq tags: a stored name that is not one is left out.
    .filter((n) => n.cloud === cloud && n.family === 4 && NAME_RE.test(n.zone) && NAME_RE.test(n.name))
    .map((n) => ({ n, r: tryParse(() => parseRange(n.cidr)) }))
    .filter((x): x is { n: Network; r: NonNullable<typeof x.r> } => x.r !== undefined && x.r.family === 4)
    .sort((a, b) => (a.r.start !== b.r.start ? (a.r.start < b.r.start ? -1 : 1) : a.r.end < b.r.end ? -1 : a.r.end > b.r.end ? 1 : 0));
  const ids = new Set<number>();
  const all = v4.map(({ n, r }) => ({ n, r, id: keaSubnetId(cloud, r.text, ids) }));
  // Networks of a cloud never overlap (the engine refuses it). Should stored data say otherwise, every
  // network involved is left out: which of them is the real one cannot be told from here.
  const overlapping = new Set<Network>();
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length && all[j]!.r.start <= all[i]!.r.end; j++) overlapping.add(all[i]!.n).add(all[j]!.n);
  }

  const selectedPools = pools.filter((p) => p.cloud === cloud && p.family === 4 && (filter.zone === undefined || p.zone === filter.zone) && (filter.pool === undefined || p.name === filter.pool));
  const subnets: DhcpSubnet[] = [];
  const notExported: NotExported[] = [];
  const attached = new Set<Pool>();
  for (const { n, r, id } of all) {
    if (filter.zone !== undefined && n.zone !== filter.zone) continue;
    if (filter.network !== undefined && n.name !== filter.network) continue;
    const inside = selectedPools.filter((p) => p.zone === n.zone && p.network === n.name);
    // With ?pool=, only the networks of that pool.
    if (filter.pool !== undefined && inside.length === 0) continue;
    if (overlapping.has(n)) {
      notExported.push({ network: `${n.zone}/${n.name}`, reason: `${r.text} overlaps another network of the cloud` });
      continue;
    }
    inside.forEach((p) => attached.add(p));
    subnets.push({ network: n, subnet: r.text, start: r.start, end: r.end, id, tag: `${n.zone}.${n.name}`, pools: inside, options: networkOptions(n, r.start, r.end) });
  }
  if (filter.network === undefined) {
    for (const p of selectedPools) {
      if (attached.has(p)) continue;
      const reason = p.network === undefined ? 'in no network' : `its network ${shown(`${p.zone}/${p.network}`)} is not exported or not an IPv4 network of this cloud`;
      notExported.push({ pool: shown(`${p.zone}/${p.name}`), reason });
    }
  }
  return { subnets, notExported };
}

/** The host name a client of the network is given: see the file comment. */
export function dhcpHostname(hostname: string | undefined, domain: string | undefined): string | undefined {
  if (typeof hostname !== 'string' || !HOSTNAME_RE.test(hostname)) return undefined;
  const h = hostname.replace(/\.$/, '').toLowerCase();
  if (!h.includes('.')) return domain ? `${h}.${domain}` : h;
  return domain && h.endsWith(`.${domain}`) ? h : undefined;
}

/**
 * The reservations of one subnet, from its pools' allocations (pool by pool, in address order),
 * each checked as the file comment says. `skipped` hears about every allocation with a MAC that is not reserved.
 */
export async function* subnetReservations(
  s: DhcpSubnet,
  allocationsOf: (pool: Pool) => AsyncIterable<Allocation> | Iterable<Allocation>,
  skipped: (x: Skipped) => void = () => {},
): AsyncIterable<Reservation> {
  const macs = new Set<string>();
  const addresses = new Set<bigint>();
  const reserved = new Set(reservedAddresses({ cidr: s.subnet, ...(s.options.routers ? { gateway: s.options.routers } : {}) }));
  for (const p of s.pools) {
    for await (const a of allocationsOf(p)) {
      if (!a.mac) continue;
      const holder = shown(holderText(holderOf(a)));
      const v = a.family === 4 && a.prefixLength === 32 ? ipv4(a.address) : undefined;
      const skip = (reason: string) => skipped({ address: v !== undefined ? formatAddress(4, v) : shown(a.address), holder, reason });
      if (a.family !== 4 || a.prefixLength !== 32) continue; // IPv6 and blocks are out of scope, not faults
      if (v === undefined) skip('not an IPv4 address');
      else if (a.cloud !== p.cloud || a.zone !== p.zone || a.pool !== p.name) skip(`recorded in another pool than ${p.zone}/${p.name}`);
      else if (v < s.start || v > s.end) skip(`outside the network ${s.subnet}`);
      else if (reserved.has(v)) skip(`the network, broadcast or gateway address of ${s.subnet}`);
      else if (typeof a.mac !== 'string' || !MAC_RE.test(a.mac)) skip('not a MAC address');
      else {
        const mac = a.mac.toLowerCase().replace(/-/g, ':');
        if (macs.has(mac)) skip(`MAC ${mac} is already reserved in this network`);
        else if (addresses.has(v)) skip('the address is already reserved in this network');
        else {
          macs.add(mac);
          addresses.add(v);
          const hostname = dhcpHostname(a.hostname, s.options.domainName);
          yield { mac, address: formatAddress(4, v), ...(hostname ? { hostname } : {}), holder };
        }
      }
    }
  }
}

/** Kea `option-data` for a network's options. */
export function keaOptionData(o: DhcpNetworkOptions): { name: string; data: string }[] {
  const out: { name: string; data: string }[] = [];
  if (o.routers) out.push({ name: 'routers', data: o.routers });
  if (o.dnsServers.length) out.push({ name: 'domain-name-servers', data: o.dnsServers.join(', ') });
  if (o.domainName) out.push({ name: 'domain-name', data: o.domainName });
  if (o.searchDomains.length) out.push({ name: 'domain-search', data: o.searchDomains.join(', ') });
  if (o.ntpServers.length) out.push({ name: 'ntp-servers', data: o.ntpServers.join(', ') });
  if (o.mtu !== undefined) out.push({ name: 'interface-mtu', data: String(o.mtu) });
  return out;
}

/** dnsmasq lines declaring a network: its static range and its tagged options. */
export function dnsmasqNetworkLines(s: DhcpSubnet): string[] {
  const o = s.options;
  const t = `dhcp-option=tag:${s.tag},option:`;
  const prefix = Number(s.subnet.split('/')[1]);
  return [
    `dhcp-range=set:${s.tag},${formatAddress(4, s.start)},static,${netmask(prefix)}`,
    // Empty router and dns-server options tell dnsmasq to send none (else it offers itself).
    `${t}router${o.routers ? `,${o.routers}` : ''}`,
    `${t}dns-server${o.dnsServers.length ? `,${o.dnsServers.join(',')}` : ''}`,
    ...(o.domainName ? [`${t}domain-name,${o.domainName}`, `domain=${o.domainName},${s.subnet}`] : []),
    ...(o.searchDomains.length ? [`${t}domain-search,${o.searchDomains.join(',')}`] : []),
    ...(o.ntpServers.length ? [`${t}ntp-server,${o.ntpServers.join(',')}`] : []),
    ...(o.mtu !== undefined ? [`${t}mtu,${o.mtu}`] : []),
  ];
}

/**
 * The DHCP configuration of a cloud's networks in `kea` (JSON) or `dnsmasq` (text) form, streamed in
 * pieces (joining them gives the whole document). Pure over its inputs: networks, pools, and each
 * pool's allocations in address order.
 */
export async function* renderDhcp(
  cloud: string,
  networks: readonly Network[],
  pools: readonly Pool[],
  allocationsOf: (pool: Pool) => AsyncIterable<Allocation> | Iterable<Allocation>,
  opts: DhcpOptions,
): AsyncIterable<string> {
  const plan = dhcpPlan(cloud, networks, pools, opts);
  const poolNames = (s: DhcpSubnet) => s.pools.map((p) => shown(`${p.zone}/${p.name}`));
  if (opts.format === 'dnsmasq') {
    yield `# DHCP configuration of cloud ${cloud}, generated by the IPAM; do not edit\n`;
    for (const s of plan.subnets) {
      const pl = poolNames(s);
      yield `\n# network ${s.network.zone}/${s.network.name} ${s.subnet}${pl.length ? ` (pools ${pl.join(', ')})` : ''}\n${dnsmasqNetworkLines(s).join('\n')}\n`;
      let skippedText = '';
      for await (const r of subnetReservations(s, allocationsOf, (x) => (skippedText += `# skipped ${x.address} (${x.holder}): ${x.reason}\n`))) {
        yield `dhcp-host=${r.mac},${r.address}${r.hostname ? `,${r.hostname}` : ''}\n`;
      }
      if (skippedText) yield skippedText;
    }
    if (plan.notExported.length) yield `\n${plan.notExported.map((x) => `# not exported: ${x.pool ? `pool ${x.pool}` : `network ${x.network}`} (${x.reason})\n`).join('')}`;
    return;
  }
  yield '{"subnet4":[';
  let first = true;
  for (const s of plan.subnets) {
    const head = {
      id: s.id,
      subnet: s.subnet,
      // Reservations only: with no `pools`, a client without a reservation gets no address. The
      // reservation lookup is this subnet's own, whatever the server's global settings say.
      'reservations-global': false,
      'reservations-in-subnet': true,
      'option-data': keaOptionData(s.options),
    };
    yield `${first ? '' : ','}\n${JSON.stringify(head).slice(0, -1)},"reservations":[`;
    first = false;
    const skipped: Skipped[] = [];
    let n = 0;
    for await (const r of subnetReservations(s, allocationsOf, (x) => skipped.push(x))) {
      yield `${n++ ? ',' : ''}\n${JSON.stringify({ 'hw-address': r.mac, 'ip-address': r.address, ...(r.hostname ? { hostname: r.hostname } : {}) })}`;
    }
    const context = { ipam: { cloud, zone: s.network.zone, network: s.network.name, pools: poolNames(s), ...(skipped.length ? { skipped } : {}) } };
    yield `\n],"user-context":${JSON.stringify(context)}}`;
  }
  yield `\n],"user-context":${JSON.stringify({ ipam: { cloud, ...(plan.notExported.length ? { notExported: plan.notExported } : {}) } })}}\n`;
}

/** The cloud's DHCP configuration, read from the engine. */
export async function* dhcpReservations(ipam: Ipam, cloud: string, opts: DhcpOptions): AsyncIterable<string> {
  checkName('cloud', cloud);
  if (opts.zone !== undefined) checkName('zone', opts.zone);
  if (opts.network !== undefined) checkName('network', opts.network);
  if (opts.pool !== undefined) checkName('pool', opts.pool);
  const [networks, pools] = await Promise.all([ipam.networksOf(cloud), ipam.poolsOf(cloud)]);
  yield* renderDhcp(cloud, networks, pools, (p) => allocationsOf(ipam, p), opts);
}

async function* allocationsOf(ipam: Ipam, pool: Pool): AsyncIterable<Allocation> {
  for await (const batch of ipam.allocationsIn(pool)) yield* batch;
}
