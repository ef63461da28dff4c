/**
 * DNS zones of a cloud, built from its pools and allocations.
 *
 * Zone layout:
 * - Forward zones: every distinct pool `dns.domain` of the cloud (domains under `.arpa` are ignored).
 *   An allocation's name is its hostname label joined to its pool's domain, or its hostname as is
 *   when that contains a dot (an FQDN). The record (A for IPv4, AAAA for IPv6) goes into the forward
 *   zone that is the name's longest matching suffix; a name under no known domain gets no forward record.
 *   Nested domains are separate zones; the parent zone carries no delegation for the child (serve both
 *   from the same servers).
 * - Reverse zones: PTR records in `c.b.a.in-addr.arpa` zones (/24 boundaries) and `ip6.arpa` zones at
 *   /64 nibble boundaries, for every allocation whose name is known (a label in a pool without a domain
 *   has none). A reverse zone exists while it holds at least one PTR record.
 * - Blocks (prefixLength < 32/128) get no records; only single addresses do.
 *
 * Every zone starts with `$ORIGIN`, `$TTL`, the SOA (MNAME = primary name server, RNAME = hostmaster,
 * serial = the cloud's change clock) and one NS record per name server. A name server whose name lies
 * inside a zone needs an address record there (named refuses the zone otherwise): configured addresses
 * (IPAM_DNS_NS_ADDRESSES) are written in the header; else the zone gets the addresses the cloud's own
 * allocations give that name; else a clearly marked 127.0.0.1 placeholder so the zone still loads.
 */
import { invalid, IpamError } from '../../core/errors.js';
import type { Ipam } from '../../engine/ipam.js';
import { BITS, parseAddress, parseRange, type Family } from '../../core/ip.js';
import { checkName } from '../../core/validate.js';
import type { Allocation, Pool } from '../../core/model.js';
import { configAddress, isReverseZone, isUnder, normalizeName, parseReverseZone, relativeOwner, reverseName, rname } from './names.js';

export interface DnsConfig {
  /** SOA MNAME and first NS record. Default `ns1.<first forward domain>` (alphabetically). */
  primaryNs?: string;
  /** More NS records (secondaries). */
  secondaryNs?: string[];
  /** Addresses of the primary name server, written into zones that contain its name. */
  primaryNsAddresses?: string[];
  /** `hostmaster@example.com` or `hostmaster.example.com.`. Default `hostmaster.<first forward domain>`. */
  hostmaster?: string;
  /** Default TTL ($TTL) of every record. Default 300. */
  ttl?: number;
  /** SOA refresh, retry, expire, minimum (negative-caching TTL). */
  refresh?: number;
  retry?: number;
  expire?: number;
  negativeTtl?: number;
}

/** Reads IPAM_DNS_PRIMARY_NS, IPAM_DNS_SECONDARY_NS (comma list), IPAM_DNS_NS_ADDRESSES (comma list), IPAM_DNS_HOSTMASTER, IPAM_DNS_TTL, IPAM_DNS_NEGATIVE_TTL. */
export function dnsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DnsConfig {
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const num = (name: string) => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 2147483647) throw new Error(`${name} must be a number of seconds, not ${v}`);
    return n;
  };
  const cfg: DnsConfig = {};
  if (env.IPAM_DNS_PRIMARY_NS) cfg.primaryNs = env.IPAM_DNS_PRIMARY_NS;
  if (env.IPAM_DNS_SECONDARY_NS) cfg.secondaryNs = list(env.IPAM_DNS_SECONDARY_NS);
  if (env.IPAM_DNS_NS_ADDRESSES) cfg.primaryNsAddresses = list(env.IPAM_DNS_NS_ADDRESSES);
  if (env.IPAM_DNS_HOSTMASTER) cfg.hostmaster = env.IPAM_DNS_HOSTMASTER;
  const ttl = num('IPAM_DNS_TTL');
  if (ttl !== undefined) cfg.ttl = ttl;
  const neg = num('IPAM_DNS_NEGATIVE_TTL');
  if (neg !== undefined) cfg.negativeTtl = neg;
  checkDnsConfig(cfg);
  return cfg;
}

/** Throws a plain Error naming the bad setting. */
export function checkDnsConfig(cfg: DnsConfig): void {
  const ns = (n: string, what: string) => {
    const v = normalizeName(n);
    if (!v || !v.includes('.') || isReverseZone(v)) throw new Error(`${what} must be a fully qualified host name, not ${JSON.stringify(n)}`);
    return v;
  };
  if (cfg.primaryNs !== undefined) ns(cfg.primaryNs, 'the primary name server (IPAM_DNS_PRIMARY_NS)');
  for (const s of cfg.secondaryNs ?? []) ns(s, 'a secondary name server (IPAM_DNS_SECONDARY_NS)');
  for (const a of cfg.primaryNsAddresses ?? []) {
    try {
      configAddress(a);
    } catch {
      throw new Error(`IPAM_DNS_NS_ADDRESSES holds ${JSON.stringify(a)}, which is not an IP address`);
    }
  }
  if (cfg.hostmaster !== undefined && !rname(cfg.hostmaster)) throw new Error(`the hostmaster (IPAM_DNS_HOSTMASTER) must be an e-mail address or a domain name, not ${JSON.stringify(cfg.hostmaster)}`);
  for (const k of ['ttl', 'refresh', 'retry', 'expire', 'negativeTtl'] as const) {
    const v = cfg[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2147483647)) throw new Error(`dns ${k} must be 0-2147483647 seconds`);
  }
}

export type RecordType = 'A' | 'AAAA' | 'PTR';

export interface DnsRecord {
  zone: string;
  /** Owner relative to the zone origin (`@` for the apex). */
  owner: string;
  /** The owner's full name (no trailing dot). */
  name: string;
  type: RecordType;
  data: string;
}

export const recordLine = (r: Pick<DnsRecord, 'owner' | 'type' | 'data'>) => `${r.owner}\tIN\t${r.type}\t${r.data}\n`;

/** The placeholder the SOA serial has in the text a zone's content hash is computed over. */
export const SERIAL_PLACEHOLDER = 'SERIAL';

/** Clamps a change clock (epoch seconds) to a valid, non-zero 32-bit serial. */
export const toSerial = (n: number) => Math.min(0xffffffff, Math.max(1, Math.floor(n)));

/** The DNS view of one cloud: its forward domains, the name of every allocation, the zone header. */
export class CloudDns {
  /** Forward zones, sorted. */
  readonly forward: string[];
  readonly nameServers: string[];
  readonly mname: string;
  readonly rname: string;
  private readonly domains: Set<string>;
  private readonly poolDomain = new Map<string, string | undefined>();
  private readonly nsSet: Set<string>;
  private readonly configuredGlue: { family: Family; address: string }[];
  private readonly ttl: number;
  private readonly soaTimers: string;

  constructor(
    readonly cloud: string,
    readonly pools: Pool[],
    cfg: DnsConfig = {},
  ) {
    checkDnsConfig(cfg);
    const domains = new Set<string>();
    for (const p of pools) {
      const d = p.dns?.domain ? normalizeName(p.dns.domain) : undefined;
      const usable = d && !isReverseZone(d) ? d : undefined;
      this.poolDomain.set(`${p.zone}/${p.name}`, usable);
      if (usable) domains.add(usable);
    }
    this.domains = domains;
    this.forward = [...domains].sort();
    const first = this.forward[0];
    // Without any forward domain, zones exist only for PTRs of FQDNs: fall back to a reserved,
    // out-of-zone placeholder (RFC 2606 .invalid) so that the zones still load.
    const base = first ?? `${cloud}.invalid`;
    this.mname = normalizeName(cfg.primaryNs ?? `ns1.${base}`)!;
    this.nameServers = [...new Set([this.mname, ...(cfg.secondaryNs ?? []).map((s) => normalizeName(s)!)])];
    this.nsSet = new Set(this.nameServers);
    this.rname = rname(cfg.hostmaster ?? `hostmaster.${base}`)!;
    this.configuredGlue = (cfg.primaryNsAddresses ?? []).map(configAddress);
    this.ttl = cfg.ttl ?? 300;
    this.soaTimers = `${cfg.refresh ?? 3600} ${cfg.retry ?? 600} ${cfg.expire ?? 1209600} ${cfg.negativeTtl ?? 300}`;
  }

  static async load(ipam: Ipam, cloud: string, cfg?: DnsConfig): Promise<CloudDns> {
    const pools = await ipam.poolsOf(cloud);
    return new CloudDns(cloud, pools, cfg);
  }

  isForwardZone(zone: string): boolean {
    return this.domains.has(zone);
  }

  /** The allocation's full name (no trailing dot), if it has one. */
  fqdnOf(a: Allocation): string | undefined {
    if (!a.hostname) return undefined;
    if (a.hostname.replace(/\.$/, '').includes('.')) return normalizeName(a.hostname);
    const domain = this.poolDomain.get(`${a.zone}/${a.pool}`);
    return domain ? normalizeName(`${a.hostname}.${domain}`) : undefined;
  }

  /** The forward zone a name belongs to: its longest suffix that is a known domain. */
  forwardZoneOf(fqdn: string): string | undefined {
    let n = fqdn;
    for (;;) {
      if (this.domains.has(n)) return n;
      const dot = n.indexOf('.');
      if (dot < 0) return undefined;
      n = n.slice(dot + 1);
    }
  }

  /** The records an allocation contributes (none for blocks and nameless allocations). */
  recordsOf(a: Allocation): DnsRecord[] {
    if (a.prefixLength !== BITS[a.family]) return [];
    const fqdn = this.fqdnOf(a);
    if (!fqdn) return [];
    const out: DnsRecord[] = [];
    const fz = this.forwardZoneOf(fqdn);
    if (fz) out.push({ zone: fz, owner: relativeOwner(fqdn, fz), name: fqdn, type: a.family === 4 ? 'A' : 'AAAA', data: a.address });
    const { zone, owner } = reverseName(a.family, parseAddress(a.address).value);
    out.push({ zone, owner, name: `${owner}.${zone}`, type: 'PTR', data: `${fqdn}.` });
    return out;
  }

  /** `$ORIGIN`, `$TTL`, SOA, NS and configured name-server addresses. `serial` may be SERIAL_PLACEHOLDER. */
  header(zone: string, serial: number | string): string {
    const lines = [
      `; zone ${zone} of cloud ${this.cloud}, generated by the IPAM; do not edit`,
      `$ORIGIN ${zone}.`,
      `$TTL ${this.ttl}`,
      `@\tIN\tSOA\t${this.mname}. ${this.rname} ${serial} ${this.soaTimers}`,
      ...this.nameServers.map((ns) => `@\tIN\tNS\t${ns}.`),
    ];
    if (isUnder(this.mname, zone)) {
      for (const g of this.configuredGlue) lines.push(recordLine({ owner: relativeOwner(this.mname, zone), type: g.family === 4 ? 'A' : 'AAAA', data: g.address }).trimEnd());
    }
    return lines.join('\n') + '\n';
  }

  /** Tracks the name servers' addresses over one pass, for the zones that contain their names. */
  glue(): GlueTracker {
    return new GlueTracker(this, this.nsSet, this.configuredGlue.length > 0 ? this.mname : undefined);
  }
}

/**
 * Over one pass of records: which zones already hold an address for an in-zone name server, and
 * which addresses the cloud gives each name server. `trailer(zone)` then supplies what is missing.
 */
export class GlueTracker {
  private readonly seen = new Set<string>();
  private readonly addresses = new Map<string, { type: RecordType; data: string }[]>();
  readonly warnings: string[] = [];

  constructor(
    private readonly dns: CloudDns,
    private readonly nsSet: Set<string>,
    private readonly configured: string | undefined,
  ) {}

  note(r: DnsRecord): void {
    if (r.type === 'PTR' || !this.nsSet.has(r.name)) return;
    this.seen.add(`${r.zone}|${r.name}`);
    const list = this.addresses.get(r.name) ?? [];
    if (list.length < 16 && !list.some((x) => x.data === r.data)) list.push({ type: r.type, data: r.data });
    this.addresses.set(r.name, list);
  }

  trailer(zone: string): string {
    let out = '';
    for (const ns of this.dns.nameServers) {
      if (!isUnder(ns, zone) || ns === this.configured || this.seen.has(`${zone}|${ns}`)) continue;
      const owner = relativeOwner(ns, zone);
      const known = this.addresses.get(ns);
      if (known?.length) {
        out += `; address of name server ${ns} (allocated in the IPAM)\n`;
        for (const k of known) out += recordLine({ owner, type: k.type, data: k.data });
      } else {
        this.warnings.push(`name server ${ns} has no address in zone ${zone}: wrote a 127.0.0.1 placeholder; set IPAM_DNS_NS_ADDRESSES or allocate an address named ${ns}`);
        out += `; PLACEHOLDER: name server ${ns} has no known address; set IPAM_DNS_NS_ADDRESSES or allocate an address with this hostname\n`;
        out += recordLine({ owner, type: 'A', data: '127.0.0.1' });
      }
    }
    return out;
  }
}

export interface ZoneSummary {
  name: string;
  kind: 'forward' | 'reverse';
  records: number;
}

/** Sort key: forward zones by name, then reverse IPv4, then reverse IPv6, each in address order. */
export function compareZones(a: string, b: string): number {
  const ra = parseReverseZone(a);
  const rb = parseReverseZone(b);
  if (!ra && !rb) return a < b ? -1 : a > b ? 1 : 0;
  if (!ra) return -1;
  if (!rb) return 1;
  if (ra.family !== rb.family) return ra.family - rb.family;
  return ra.start < rb.start ? -1 : ra.start > rb.start ? 1 : 0;
}

/**
 * Every zone of the cloud with its number of A/AAAA/PTR records (SOA, NS and name-server addresses
 * are not counted). One streamed pass over the cloud's allocations; memory grows with the number of
 * zones, not of allocations.
 */
export async function listZones(ipam: Ipam, cloud: string, cfg?: DnsConfig): Promise<ZoneSummary[]> {
  const dns = await CloudDns.load(ipam, cloud, cfg);
  const counts = new Map<string, number>(dns.forward.map((z) => [z, 0]));
  for await (const a of ipam.iterateAllocations(cloud)) {
    for (const r of dns.recordsOf(a)) counts.set(r.zone, (counts.get(r.zone) ?? 0) + 1);
  }
  return [...counts.keys()].sort(compareZones).map((name) => ({ name, kind: isReverseZone(name) ? 'reverse' : 'forward', records: counts.get(name)! }));
}

/** The allocations that can have records in `zone`: all of the cloud for a forward zone, the covered network for a reverse zone. */
export async function* zoneAllocations(ipam: Ipam, dns: CloudDns, zone: string): AsyncIterable<Allocation[]> {
  const rev = parseReverseZone(zone);
  if (!rev) {
    let batch: Allocation[] = [];
    for await (const a of ipam.iterateAllocations(dns.cloud)) {
      batch.push(a);
      if (batch.length >= 256) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
    return;
  }
  const from = rev.start - (rev.start % 256n);
  const to = rev.end - (rev.end % 256n);
  for (const p of dns.pools) {
    if (p.family !== rev.family || !p.ranges.some((t) => overlapsRange(t, rev.start, rev.end))) continue;
    for await (const batch of ipam.allocationsIn(p, from, to)) {
      const inside = batch.filter((a) => {
        const v = parseAddress(a.address).value;
        return v >= rev.start && v <= rev.end;
      });
      if (inside.length) yield inside;
    }
  }
}

function overlapsRange(text: string, start: bigint, end: bigint): boolean {
  const r = parseRange(text);
  return r.start <= end && start <= r.end;
}

export interface ZoneFileOptions {
  config?: DnsConfig;
  /** SOA serial; default the cloud's change clock. */
  serial?: number;
  /** Called with warnings (placeholder name-server addresses). */
  onWarning?: (message: string) => void;
}

/**
 * One zone as an RFC 1035 master file, streamed: the header first, then the records batch by batch
 * as the allocations are read, then any missing name-server addresses. Nothing is held but a batch.
 * Throws ZoneNotFound (before yielding anything) for a zone the cloud does not have.
 */
export async function* zoneFile(ipam: Ipam, cloud: string, zoneName: string, opts: ZoneFileOptions = {}): AsyncIterable<string> {
  const dns = await CloudDns.load(ipam, cloud, opts.config);
  const zone = normalizeName(zoneName);
  const notFound = () => new IpamError('ZoneNotFound', `cloud ${cloud} has no DNS zone ${JSON.stringify(zoneName.slice(0, 260))}`, { zone: zoneName.slice(0, 260) });
  if (!zone) throw invalid(`not a DNS zone name: ${JSON.stringify(zoneName.slice(0, 260))}`);
  const reverse = isReverseZone(zone);
  if (reverse && !parseReverseZone(zone)) throw notFound();
  if (!reverse && !dns.isForwardZone(zone)) throw notFound();
  const pending = zoneAllocations(ipam, dns, zone)[Symbol.asyncIterator]();
  let first: Allocation[] | undefined;
  if (reverse) {
    // A reverse zone exists while it has a PTR record: read until the first one before answering.
    for (;;) {
      const n = await pending.next();
      if (n.done) throw notFound();
      if (n.value.some((a) => dns.recordsOf(a).some((r) => r.zone === zone))) {
        first = n.value;
        break;
      }
    }
  }
  const serial = opts.serial ?? toSerial(await ipam.changeClock(cloud));
  yield dns.header(zone, serial);
  const glue = dns.glue();
  const emit = (batch: Allocation[]) => {
    let text = '';
    for (const a of batch) {
      for (const r of dns.recordsOf(a)) {
        glue.note(r);
        if (r.zone === zone) text += recordLine(r);
      }
    }
    return text;
  };
  if (first) yield emit(first);
  for (;;) {
    const n = await pending.next();
    if (n.done) break;
    const text = emit(n.value);
    if (text) yield text;
  }
  const trailer = glue.trailer(zone);
  for (const w of glue.warnings) opts.onWarning?.(w);
  if (trailer) yield trailer;
}

/** Joins a streamed text (the API answers with a string body). */
export async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}
