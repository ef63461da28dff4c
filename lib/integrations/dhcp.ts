/**
 * DHCP reservations from the IPAM: every single IPv4 allocation with a MAC becomes a host reservation.
 * (IPv6 allocations are skipped: Kea's dhcp6 and dnsmasq's DHCPv6 identify clients by DUID, not MAC,
 * and are out of scope. Blocks are skipped: a reservation is one address.)
 *
 * Subnets: the reservations are grouped per subnet, where a pool's subnet is the smallest CIDR that
 * covers all of its ranges, and pools whose subnets nest are merged into the outermost one, so the
 * subnets never overlap. Within a subnet, a MAC is reserved once (the first allocation in pool and
 * address order wins; the others are skipped, and named in a comment in the dnsmasq format).
 *
 * Formats:
 * - `kea`: a Dhcp4 fragment `{"subnet4": [{"id", "subnet", "user-context", "reservations": [...]}]}`.
 *   Each `reservations` array (`{"hw-address", "ip-address", "hostname"}`) can be used inside an
 *   existing `subnet4` entry, or the whole `subnet4` list dropped into a config. `id` is a stable
 *   hash of cloud and subnet (1 .. 2^32-2); only subnets with at least one reservation are listed.
 * - `dnsmasq`: `dhcp-host=<mac>,<ip>[,<hostname>]` lines, one `# subnet` comment per subnet.
 * The hostname is the allocation's full name (label + pool domain, or its FQDN) when known, else its label.
 */
import type { Ipam } from '../engine/ipam.js';
import { BITS, formatAddress, parseAddress, parseRange } from '../core/ip.js';
import { holderOf, type Allocation, type Pool } from '../core/model.js';
import { CloudDns } from './dns/zones.js';
import { checkName } from '../core/validate.js';

export type DhcpFormat = 'kea' | 'dnsmasq';

export interface DhcpOptions {
  format: DhcpFormat;
  zone?: string;
  pool?: string;
}

export interface DhcpSubnet {
  /** The subnet's CIDR. */
  subnet: string;
  start: bigint;
  end: bigint;
  pools: Pool[];
}

/** The smallest CIDR covering every range of a pool. */
export function coveringCidr(pool: Pool): { start: bigint; end: bigint; prefix: number } {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  for (const t of pool.ranges) {
    const r = parseRange(t);
    if (lo === undefined || r.start < lo) lo = r.start;
    if (hi === undefined || r.end > hi) hi = r.end;
  }
  const bits = BITS[pool.family];
  let prefix = bits;
  while (prefix > 0 && lo! >> BigInt(bits - prefix) !== hi! >> BigInt(bits - prefix)) prefix--;
  const size = 1n << BigInt(bits - prefix);
  const start = lo! - (lo! % size);
  return { start, end: start + size - 1n, prefix };
}

/** The subnets of the selected IPv4 pools: nested covering CIDRs merged into the outermost. */
export function dhcpSubnets(pools: Pool[], filter: { zone?: string; pool?: string } = {}): DhcpSubnet[] {
  const cands = pools
    .filter((p) => p.family === 4 && (filter.zone === undefined || p.zone === filter.zone) && (filter.pool === undefined || p.name === filter.pool))
    .map((p) => ({ pool: p, ...coveringCidr(p) }))
    // By start, and the larger (outer) block first at equal start.
    .sort((a, b) => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.prefix - b.prefix));
  const out: DhcpSubnet[] = [];
  for (const c of cands) {
    const last = out[out.length - 1];
    if (last && c.start >= last.start && c.end <= last.end) last.pools.push(c.pool);
    else out.push({ subnet: `${formatAddress(4, c.start)}/${c.prefix}`, start: c.start, end: c.end, pools: [c.pool] });
  }
  return out;
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

interface Reservation {
  mac: string;
  address: string;
  hostname?: string;
  holder: string;
}

/** The reservations of one subnet, streamed pool by pool in address order, MACs deduplicated. */
async function* subnetReservations(ipam: Ipam, dns: CloudDns, s: DhcpSubnet, skipped: (r: Reservation) => void): AsyncIterable<Reservation> {
  const macs = new Set<string>();
  for (const p of s.pools) {
    for await (const a of ipam.iterateAllocations(p.cloud, { zone: p.zone, pool: p.name })) {
      const r = reservationOf(a, dns);
      if (!r) continue;
      const v = parseAddress(r.address).value;
      if (v < s.start || v > s.end) continue;
      if (macs.has(r.mac)) {
        skipped(r);
        continue;
      }
      macs.add(r.mac);
      yield r;
    }
  }
}

function reservationOf(a: Allocation, dns: CloudDns): Reservation | undefined {
  if (!a.mac || a.family !== 4 || a.prefixLength !== 32) return undefined;
  const hostname = dns.fqdnOf(a) ?? a.hostname?.replace(/\.$/, '');
  const holder = holderOf(a);
  return { mac: a.mac, address: a.address, ...(hostname ? { hostname } : {}), holder: `${holder.kind}:${holder.id}` };
}

/**
 * The cloud's DHCP reservations in `kea` (JSON) or `dnsmasq` (text) form, streamed in pieces.
 * Joining the pieces gives the whole document.
 */
export async function* dhcpReservations(ipam: Ipam, cloud: string, opts: DhcpOptions): AsyncIterable<string> {
  const pools = await ipam.poolsOf(cloud);
  if (opts.zone !== undefined) checkName('zone', opts.zone);
  if (opts.pool !== undefined) checkName('pool', opts.pool);
  const dns = new CloudDns(cloud, pools);
  const subnets = dhcpSubnets(pools, opts);
  if (opts.format === 'dnsmasq') {
    yield `# DHCP reservations of cloud ${cloud}, generated by the IPAM; do not edit\n`;
    for (const s of subnets) {
      let header = `\n# subnet ${s.subnet} (pools ${s.pools.map((p) => `${p.zone}/${p.name}`).join(', ')})\n`;
      let skippedText = '';
      for await (const r of subnetReservations(ipam, dns, s, (x) => (skippedText += `# skipped ${x.address} (${x.holder}): MAC ${x.mac} is already reserved in this subnet\n`))) {
        yield `${header}dhcp-host=${r.mac},${r.address}${r.hostname ? `,${r.hostname}` : ''}\n`;
        header = '';
      }
      if (skippedText) yield skippedText;
    }
    return;
  }
  const ids = new Set<number>();
  yield '{"subnet4":[';
  let firstSubnet = true;
  for (const s of subnets) {
    let open = false;
    for await (const r of subnetReservations(ipam, dns, s, () => {})) {
      const res = JSON.stringify({ 'hw-address': r.mac, 'ip-address': r.address, ...(r.hostname ? { hostname: r.hostname } : {}) });
      if (!open) {
        const head = { id: keaSubnetId(cloud, s.subnet, ids), subnet: s.subnet, 'user-context': { ipam: { cloud, pools: s.pools.map((p) => `${p.zone}/${p.name}`) } } };
        yield `${firstSubnet ? '' : ','}\n${JSON.stringify(head).slice(0, -1)},"reservations":[\n${res}`;
        open = true;
        firstSubnet = false;
      } else yield `,\n${res}`;
    }
    if (open) yield '\n]}';
  }
  yield '\n]}\n';
}
