/**
 * DNS zones of a cloud, built from its networks, pools and allocations.
 *
 * Zone layout:
 * - Forward zones: one per owned domain. A domain is owned by the network whose `dns.domain` it is, or,
 *   for pools outside networks, by the pools whose `dns.domain` it is; its owner is that security zone.
 *   The export trusts no stored data to respect ownership: a domain claimed in two security zones, or
 *   equal to, above or below a domain claimed in another security zone, is withheld (no zone, a warning).
 * - An allocation's name lies in ITS OWN domain (its network's, else its pool's): its hostname label
 *   joined to that domain, or its hostname as is when that is an FQDN inside that domain. Its A/AAAA record
 *   goes into that domain's zone and nowhere else. A name outside its own domain, inside a deeper domain
 *   claimed by anyone, equal to a name server's name, or in a pool without a domain, gets no record at all
 *   (neither forward nor PTR). Nothing is matched by suffix across the cloud.
 * - Reverse zones follow the networks (see ReverseLayout): an octet (IPv4) or nibble (IPv6) aligned
 *   network is one zone; a shorter, unaligned one is the aligned zones it contains at the next boundary
 *   (10.2.0.0/23 → 0.2.10 and 1.2.10.in-addr.arpa); an IPv4 network longer than /24 is an RFC 2317 zone
 *   (10.2.0.64/26 → 64-127.0.2.10.in-addr.arpa) whose PTRs the enclosing /24 zone points at with CNAMEs.
 *   Pools outside networks keep /24 and /64 zones. A reverse zone exists while it holds a record.
 * - Blocks (prefixLength < 32/128) get no records; only single addresses do.
 *
 * Every zone starts with `$ORIGIN`, `$TTL`, the SOA (MNAME = the primary name server, RNAME = the
 * hostmaster, serial = the cloud's change clock) and one NS record per name server, all from the cloud's
 * DNS settings (`PUT /v1/clouds/{cloud}/dns`), else from the deployment's defaults (IPAM_DNS_*); without
 * either there are no zones (409 DnsNotConfigured). A name server whose name lies inside a zone gets the
 * addresses its settings give it, and only those; without any, that zone cannot be served (409).
 */
import { DNS_TIMER_DEFAULTS, DNS_TIMER_KEYS, checkDnsSettings, checkDnsTimers, type DnsSettings, type DnsTimers, type NameServer, type StoredDnsSettings } from '../../core/dns.js';
import { invalid, IpamError, isIpamError } from '../../core/errors.js';
import { BITS, parseAddress, parseRange, type Family } from '../../core/ip.js';
import type { Allocation, Pool } from '../../core/model.js';
import { domainOf, type Network } from '../../core/network.js';
import type { Ipam } from '../../engine/ipam.js';
import { classlessZone, isReverseZone, isUnder, normalizeName, ownerAt, parseReverseZone, relativeOwner, reverseName, REVERSE_STEP, rname, zoneAt } from './names.js';

/** Deployment defaults of the DNS settings (IPAM_DNS_*): used for clouds without settings of their own. */
export interface DnsConfig extends DnsTimers {
  primaryNs?: string;
  primaryNsAddresses?: string[];
  secondaryNs?: string[];
  hostmaster?: string;
}

/** The environment variables of the deployment defaults, by field. */
export const DNS_ENV = {
  primaryNs: 'IPAM_DNS_PRIMARY_NS',
  primaryNsAddresses: 'IPAM_DNS_PRIMARY_NS_ADDRESSES',
  secondaryNs: 'IPAM_DNS_SECONDARY_NS',
  hostmaster: 'IPAM_DNS_HOSTMASTER',
  ttl: 'IPAM_DNS_TTL',
  refresh: 'IPAM_DNS_REFRESH',
  retry: 'IPAM_DNS_RETRY',
  expire: 'IPAM_DNS_EXPIRE',
  negativeTtl: 'IPAM_DNS_NEGATIVE_TTL',
} as const;

/**
 * Reads the deployment defaults: IPAM_DNS_PRIMARY_NS, IPAM_DNS_PRIMARY_NS_ADDRESSES (comma list; the older
 * name IPAM_DNS_NS_ADDRESSES is read too), IPAM_DNS_SECONDARY_NS (comma list), IPAM_DNS_HOSTMASTER,
 * IPAM_DNS_TTL, IPAM_DNS_REFRESH, IPAM_DNS_RETRY, IPAM_DNS_EXPIRE, IPAM_DNS_NEGATIVE_TTL (seconds).
 * Throws an Error naming the variable for a bad value.
 */
export function dnsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DnsConfig {
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const cfg: DnsConfig = {};
  if (env[DNS_ENV.primaryNs]) cfg.primaryNs = env[DNS_ENV.primaryNs]!.trim();
  const addresses = env[DNS_ENV.primaryNsAddresses] || env.IPAM_DNS_NS_ADDRESSES;
  if (addresses) cfg.primaryNsAddresses = list(addresses);
  if (env[DNS_ENV.secondaryNs]) cfg.secondaryNs = list(env[DNS_ENV.secondaryNs]);
  if (env[DNS_ENV.hostmaster]) cfg.hostmaster = env[DNS_ENV.hostmaster]!.trim();
  for (const k of DNS_TIMER_KEYS) {
    const v = env[DNS_ENV[k]];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n > 2147483647) throw new Error(`${DNS_ENV[k]} must be a number of seconds, not ${v}`);
    cfg[k] = n;
  }
  checkDnsConfig(cfg);
  return cfg;
}

/** A bad deployment default: `field` names it (its variable is DNS_ENV[field]), `detail` says what is wrong. */
export class DnsConfigError extends Error {
  constructor(
    readonly field: keyof typeof DNS_ENV | undefined,
    readonly detail: string,
  ) {
    super(`${field ? DNS_ENV[field] : 'DNS defaults'}: ${detail}`);
    this.name = 'DnsConfigError';
  }
}

/** Throws a DnsConfigError naming the setting when the defaults are unusable. */
export function checkDnsConfig(cfg: DnsConfig): void {
  const named = (e: unknown) => {
    if (!isIpamError(e)) return e;
    const fields = (Object.keys(DNS_ENV) as (keyof typeof DNS_ENV)[]).sort((a, b) => b.length - a.length);
    const key = fields.find((k) => e.message.startsWith(k)) ?? (/secondary|name server/.test(e.message) ? 'secondaryNs' : undefined);
    return new DnsConfigError(key, e.message);
  };
  try {
    checkDnsTimers(cfg as Record<string, unknown>);
  } catch (e) {
    throw named(e);
  }
  const some = cfg.primaryNs !== undefined || cfg.hostmaster !== undefined || (cfg.primaryNsAddresses?.length ?? 0) > 0 || (cfg.secondaryNs?.length ?? 0) > 0;
  if (!some) return;
  if (cfg.primaryNs === undefined || cfg.hostmaster === undefined) {
    throw new DnsConfigError(cfg.primaryNs === undefined ? 'primaryNs' : 'hostmaster', `${DNS_ENV.primaryNs} and ${DNS_ENV.hostmaster} go together (name servers and their addresses need both)`);
  }
  try {
    checkDnsSettings(cfg);
  } catch (e) {
    throw named(e);
  }
}

/** The settings a cloud's zones use, timers filled in, and where they came from. */
export interface ResolvedDns {
  settings: DnsSettings & Required<DnsTimers>;
  source: 'cloud' | 'deployment';
  updatedAt?: string;
  updatedBy?: string;
}

/**
 * Precedence: the cloud's own settings as a whole (name servers, addresses, hostmaster), else the
 * deployment's defaults; each timer from the cloud, else the deployment, else DNS_TIMER_DEFAULTS.
 * Undefined when neither names a primary name server and a hostmaster.
 */
export function resolveDns(cloud: StoredDnsSettings | DnsSettings | undefined, defaults: DnsConfig = {}): ResolvedDns | undefined {
  const timers = {} as Required<DnsTimers>;
  for (const k of DNS_TIMER_KEYS) timers[k] = cloud?.[k] ?? defaults[k] ?? DNS_TIMER_DEFAULTS[k];
  if (cloud) {
    const { updatedAt, updatedBy, ...rest } = cloud as StoredDnsSettings;
    return { settings: { ...rest, ...timers }, source: 'cloud', ...(updatedAt ? { updatedAt, updatedBy } : {}) };
  }
  if (defaults.primaryNs === undefined || defaults.hostmaster === undefined) return undefined;
  const s = checkDnsSettings(defaults);
  return { settings: { ...s, ...timers }, source: 'deployment' };
}

/** 409 DnsNotConfigured: the cloud's zones would have no name server and no hostmaster. */
export function dnsNotConfigured(cloud: string): IpamError {
  return new IpamError(
    'DnsNotConfigured',
    `cloud ${cloud} has no DNS settings, so its zones would have no name server and no hostmaster: ` +
      `PUT /v1/clouds/${cloud}/dns {"primaryNs": "ns1.example.com", "primaryNsAddresses": [...], "hostmaster": "hostmaster@example.com"}, ` +
      `or deploy with the CDK context keys ipam:dnsPrimaryNs and ipam:dnsHostmaster (${DNS_ENV.primaryNs}, ${DNS_ENV.hostmaster})`,
    { cloud },
  );
}

/** The cloud's settings as its zones use them (cloud, else deployment defaults), or undefined. */
export async function loadDnsSettings(ipam: Ipam, cloud: string, defaults: DnsConfig = {}): Promise<ResolvedDns | undefined> {
  return resolveDns(await ipam.getDnsSettings(cloud), defaults);
}

export type RecordType = 'A' | 'AAAA' | 'PTR' | 'CNAME';

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

const poolKey = (zone: string, name: string) => `${zone}/${name}`;

interface ParsedNetwork {
  network: Network;
  family: Family;
  start: bigint;
  end: bigint;
  prefix: number;
}

/** Where the PTR of an address goes, and for RFC 2317 zones the CNAME the enclosing /24 carries. */
export interface ReverseSlot {
  zone: string;
  owner: string;
  parent?: { zone: string; owner: string };
}

/**
 * Reverse zones from the networks' CIDRs. An address inside a network belongs to the network's reverse
 * zones, and only an allocation of that network (or of a pool outside networks in the network's own
 * security zone) may have a PTR there; an address outside every network keeps the /24 or /64 rule.
 */
export class ReverseLayout {
  private readonly nets: ParsedNetwork[];

  constructor(networks: readonly Network[]) {
    this.nets = [];
    for (const n of networks) {
      try {
        const r = parseRange(n.cidr);
        const prefix = Number(n.cidr.split('/')[1] ?? BITS[r.family]);
        if (!Number.isInteger(prefix)) continue;
        this.nets.push({ network: n, family: r.family, start: r.start, end: r.end, prefix });
      } catch {
        /* a network that does not parse covers nothing */
      }
    }
  }

  /** The zone and owner of a network address (the network contains it). */
  static slotIn(n: { family: Family; start: bigint; prefix: number }, value: bigint): ReverseSlot {
    const step = REVERSE_STEP[n.family];
    if (n.family === 4 && n.prefix > 24 && n.prefix < 32) {
      const owner = String(value & 255n);
      return { zone: classlessZone(n.start, n.prefix), owner, parent: { zone: zoneAt(4, value, 24), owner } };
    }
    const cut = Math.max(step, Math.ceil(n.prefix / step) * step);
    return { zone: zoneAt(n.family, value, cut), owner: ownerAt(n.family, value, cut) };
  }

  /** Where the PTR of `value` (an address of `pool`) goes; undefined when it may have none. */
  slotOf(pool: Pool, family: Family, value: bigint): ReverseSlot | undefined {
    const inside = this.nets.filter((n) => n.family === family && value >= n.start && value <= n.end);
    if (inside.length > 1) return undefined; // overlapping networks: nobody owns the address
    const n = inside[0];
    if (pool.network !== undefined) {
      if (!n || n.network.zone !== pool.zone || n.network.name !== pool.network) return undefined;
      return ReverseLayout.slotIn(n, value);
    }
    if (n) return n.network.zone === pool.zone ? ReverseLayout.slotIn(n, value) : undefined;
    return reverseName(family, value);
  }
}

/** One domain's claims: the security zones that claim it and what claims it (for messages). */
interface Claim {
  zones: Set<string>;
  by: string[];
}

/**
 * The DNS view of one cloud: which security zone owns which forward domain, the name and records of
 * every allocation, and (with settings) the zone header.
 */
export class CloudDns {
  /** Forward zones that are exported (owned by exactly one security zone), sorted. */
  readonly forward: string[];
  /** Withheld domains and unservable zones, for logs. */
  readonly warnings: string[] = [];
  readonly networks: readonly Network[];
  readonly settings?: ResolvedDns['settings'];
  private readonly pools = new Map<string, Pool>();
  private readonly poolDomain = new Map<string, string | undefined>();
  private readonly claims = new Map<string, Claim>();
  private readonly owner = new Map<string, string>();
  private readonly withheld = new Map<string, string>();
  private readonly nameServers: NameServer[];
  private readonly nsNames: Set<string>;
  private readonly layout: ReverseLayout;

  constructor(
    readonly cloud: string,
    pools: readonly Pool[],
    opts: { networks?: readonly Network[]; settings?: ResolvedDns['settings'] } = {},
  ) {
    this.networks = opts.networks ?? [];
    if (opts.settings) this.settings = opts.settings;
    this.layout = new ReverseLayout(this.networks);
    const claim = (domain: string | undefined, zone: string, by: string) => {
      const d = normalizeName(domain);
      if (!d || isReverseZone(d) || !d.includes('.')) return undefined;
      const c = this.claims.get(d) ?? { zones: new Set<string>(), by: [] };
      c.zones.add(zone);
      c.by.push(by);
      this.claims.set(d, c);
      return d;
    };
    for (const n of this.networks) claim(n.dns?.domain, n.zone, `network ${n.zone}/${n.name}`);
    for (const p of pools) {
      this.pools.set(poolKey(p.zone, p.name), p);
      const d = p.network === undefined ? claim(p.dns?.domain, p.zone, `pool ${p.zone}/${p.name}`) : normalizeName(domainOf(p, this.networks as Network[]));
      this.poolDomain.set(poolKey(p.zone, p.name), d && this.claims.has(d) ? d : undefined);
    }
    // Withhold every domain whose ownership is not one security zone's alone.
    for (const [d, c] of this.claims) {
      if (c.zones.size > 1) this.withhold(d, `domain ${d} is claimed in more than one security zone (${c.by.join(', ')})`);
      for (const a of ancestors(d)) {
        const up = this.claims.get(a);
        if (!up) continue;
        if ([...up.zones, ...c.zones].some((z) => !up.zones.has(z) || !c.zones.has(z))) {
          const why = `domain ${d} (${c.by.join(', ')}) lies inside domain ${a} (${up.by.join(', ')}) of another security zone`;
          this.withhold(d, why);
          this.withhold(a, why);
        }
      }
    }
    for (const [d, c] of this.claims) if (!this.withheld.has(d)) this.owner.set(d, [...c.zones][0]!);
    this.forward = [...this.owner.keys()].sort();

    const s = opts.settings;
    this.nameServers = s ? [{ name: s.primaryNs, addresses: s.primaryNsAddresses }, ...s.secondaryNs] : [];
    this.nsNames = new Set(this.nameServers.map((n) => n.name));
    for (const zone of this.forward) {
      const why = this.unservableReason(zone);
      if (why) this.warnings.push(why);
    }
  }

  private withhold(domain: string, why: string) {
    if (this.withheld.has(domain)) return;
    this.withheld.set(domain, why);
    this.warnings.push(`${why}: withheld from cloud ${this.cloud}'s DNS zones`);
  }

  /** Reads what the cloud's zones are made of: pools, networks and the settings (cloud's, else `defaults`). */
  static async load(ipam: Ipam, cloud: string, defaults: DnsConfig = {}): Promise<CloudDns> {
    const [pools, networks, settings] = await Promise.all([ipam.poolsOf(cloud), ipam.networksOf(cloud), loadDnsSettings(ipam, cloud, defaults)]);
    return new CloudDns(cloud, pools, { networks, ...(settings ? { settings: settings.settings } : {}) });
  }

  /** 409 DnsNotConfigured unless the cloud has settings. */
  requireSettings(): NonNullable<CloudDns['settings']> {
    if (!this.settings) throw dnsNotConfigured(this.cloud);
    return this.settings;
  }

  isForwardZone(zone: string): boolean {
    return this.owner.has(zone);
  }

  /** The security zone that owns a forward zone. */
  ownerOf(zone: string): string | undefined {
    return this.owner.get(zone);
  }

  /** Why a domain has no zone (claimed across security zones), if it was withheld. */
  withheldReason(domain: string): string | undefined {
    return this.withheld.get(domain);
  }

  /** Why a zone cannot be served (a name server inside it without an address), if so. */
  unservableReason(zone: string): string | undefined {
    const bare = this.nameServers.filter((n) => isUnder(n.name, zone) && n.addresses.length === 0).map((n) => n.name);
    if (!bare.length) return undefined;
    const many = bare.length > 1;
    return `zone ${zone} of cloud ${this.cloud} cannot be served: name server${many ? 's' : ''} ${bare.join(', ')} lie${many ? '' : 's'} inside it and need${many ? '' : 's'} an address (primaryNsAddresses, or the secondary's addresses, in PUT /v1/clouds/${this.cloud}/dns)`;
  }

  /** The pool of an allocation, and its own domain. */
  poolOf(a: Pick<Allocation, 'zone' | 'pool'>): Pool | undefined {
    return this.pools.get(poolKey(a.zone, a.pool));
  }

  /** The pools whose hosts live in forward zone `zone`: the only pools that can give it records. */
  poolsOfDomain(zone: string): Pool[] {
    return [...this.pools.values()].filter((p) => this.poolDomain.get(poolKey(p.zone, p.name)) === zone);
  }

  /** The pools with a range that overlaps [start, end] of the family: the only pools that can give a reverse zone records. */
  poolsOverlapping(r: { family: Family; start: bigint; end: bigint }): Pool[] {
    return [...this.pools.values()].filter((p) => p.family === r.family && this.rangesOf(p).some((x) => x.start <= r.end && r.start <= x.end));
  }

  /** The allocation's full name (no trailing dot) in its own domain, if it has one. */
  fqdnOf(a: Pick<Allocation, 'zone' | 'pool' | 'hostname'>): string | undefined {
    if (!a.hostname) return undefined;
    const domain = this.poolDomain.get(poolKey(a.zone, a.pool));
    const h = normalizeName(a.hostname);
    if (!domain || !h) return undefined;
    const name = h.includes('.') ? h : normalizeName(`${h}.${domain}`);
    return name && isUnder(name, domain) ? name : undefined;
  }

  private readonly parsedRanges = new Map<Pool, { start: bigint; end: bigint }[]>();

  private rangesOf(pool: Pool): { start: bigint; end: bigint }[] {
    let r = this.parsedRanges.get(pool);
    if (!r) {
      r = pool.ranges.flatMap((t) => {
        try {
          return [parseRange(t)];
        } catch {
          return [];
        }
      });
      this.parsedRanges.set(pool, r);
    }
    return r;
  }

  /** The deepest claimed domain (any security zone's, withheld or not) that holds `name`. */
  private deepestDomain(name: string): string | undefined {
    if (this.claims.has(name)) return name;
    return ancestors(name).find((a) => this.claims.has(a));
  }

  /** The records an allocation contributes (none for blocks, nameless allocations and names it may not have). */
  recordsOf(a: Allocation): DnsRecord[] {
    if (a.prefixLength !== BITS[a.family]) return [];
    const pool = this.poolOf(a);
    const name = this.fqdnOf(a);
    if (!pool || !name) return [];
    const domain = this.poolDomain.get(poolKey(a.zone, a.pool))!;
    if (this.owner.get(domain) !== a.zone || this.deepestDomain(name) !== domain || this.nsNames.has(name)) return [];
    let value: bigint;
    try {
      value = parseAddress(a.address).value;
    } catch {
      return [];
    }
    // The record must lie in the pool it names (pools never overlap): a record naming another pool gets nothing.
    if (pool.family !== a.family || !this.rangesOf(pool).some((r) => value >= r.start && value <= r.end)) return [];
    const out: DnsRecord[] = [{ zone: domain, owner: relativeOwner(name, domain), name, type: a.family === 4 ? 'A' : 'AAAA', data: a.address }];
    const slot = this.layout.slotOf(pool, a.family, value);
    if (slot) {
      const full = slot.owner === '@' ? slot.zone : `${slot.owner}.${slot.zone}`;
      out.push({ zone: slot.zone, owner: slot.owner, name: full, type: 'PTR', data: `${name}.` });
      if (slot.parent) out.push({ zone: slot.parent.zone, owner: slot.parent.owner, name: `${slot.parent.owner}.${slot.parent.zone}`, type: 'CNAME', data: `${full}.` });
    }
    return out;
  }

  /** `$ORIGIN`, `$TTL`, SOA, NS and the in-zone name servers' addresses. `serial` may be SERIAL_PLACEHOLDER. */
  header(zone: string, serial: number | string): string {
    const s = this.requireSettings();
    const why = this.unservableReason(zone);
    if (why) throw new IpamError('DnsNotConfigured', why, { cloud: this.cloud, zone });
    const lines = [
      `; zone ${zone} of cloud ${this.cloud}, generated by the IPAM; do not edit`,
      `$ORIGIN ${zone}.`,
      `$TTL ${s.ttl}`,
      `@\tIN\tSOA\t${s.primaryNs}. ${rname(s.hostmaster)} ${serial} ${s.refresh} ${s.retry} ${s.expire} ${s.negativeTtl}`,
      ...this.nameServers.map((ns) => `@\tIN\tNS\t${ns.name}.`),
    ];
    for (const ns of this.nameServers) {
      if (!isUnder(ns.name, zone)) continue;
      for (const address of ns.addresses) lines.push(recordLine({ owner: relativeOwner(ns.name, zone), type: address.includes(':') ? 'AAAA' : 'A', data: address }).trimEnd());
    }
    return lines.join('\n') + '\n';
  }
}

/** The proper parent domains of a name, nearest first (`a.b.c` → `b.c`, `c`). */
function ancestors(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) out.push(name.slice(i + 1));
  return out;
}

export interface ZoneSummary {
  name: string;
  kind: 'forward' | 'reverse';
  records: number;
}

/** Sort key: forward zones by name, then reverse IPv4, then reverse IPv6, each in address order (wider first). */
export function compareZones(a: string, b: string): number {
  const ra = parseReverseZone(a);
  const rb = parseReverseZone(b);
  if (!ra && !rb) return a < b ? -1 : a > b ? 1 : 0;
  if (!ra) return -1;
  if (!rb) return 1;
  if (ra.family !== rb.family) return ra.family - rb.family;
  if (ra.start !== rb.start) return ra.start < rb.start ? -1 : 1;
  if (ra.end !== rb.end) return ra.end > rb.end ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ZoneQuery {
  /** Deployment defaults (IPAM_DNS_*), for clouds without settings of their own. */
  config?: DnsConfig;
  /** Only this security zone: the forward zones it owns, and the records of its allocations. */
  zone?: string;
}

/**
 * Every zone of the cloud with its number of A/AAAA/PTR/CNAME records (SOA, NS and name-server addresses
 * are not counted). One streamed pass over the cloud's allocations; memory grows with the number of
 * zones, not of allocations. 409 DnsNotConfigured without settings.
 */
export async function listZones(ipam: Ipam, cloud: string, q: ZoneQuery = {}): Promise<ZoneSummary[]> {
  const dns = await CloudDns.load(ipam, cloud, q.config);
  dns.requireSettings();
  const counts = new Map<string, number>(dns.forward.filter((z) => q.zone === undefined || dns.ownerOf(z) === q.zone).map((z) => [z, 0]));
  for await (const a of ipam.iterateAllocations(cloud, q.zone !== undefined ? { zone: q.zone } : {})) {
    for (const r of dns.recordsOf(a)) counts.set(r.zone, (counts.get(r.zone) ?? 0) + 1);
  }
  return [...counts.keys()].sort(compareZones).map((name) => ({ name, kind: isReverseZone(name) ? 'reverse' : 'forward', records: counts.get(name)! }));
}

/** The allocations that can have records in `zone`, in batches: the domain's pools for a forward zone, the covered addresses for a reverse zone. */
async function* zoneAllocations(ipam: Ipam, dns: CloudDns, zone: string, only?: string): AsyncIterable<Allocation[]> {
  const rev = parseReverseZone(zone);
  // A prefix pool holds only blocks, which get no records: its allocations are not read at all.
  const mine = (p: Pool) => !p.prefixPool && (only === undefined || p.zone === only);
  if (!rev) {
    for (const p of dns.poolsOfDomain(zone)) if (mine(p)) yield* ipam.allocationsIn(p);
    return;
  }
  const from = rev.start - (rev.start % 256n);
  const to = rev.end - (rev.end % 256n);
  for (const p of dns.poolsOverlapping(rev)) {
    if (!mine(p)) continue;
    for await (const batch of ipam.allocationsIn(p, from, to)) {
      const inside = batch.filter((a) => {
        const v = parseAddress(a.address).value;
        return v >= rev.start && v <= rev.end;
      });
      if (inside.length) yield inside;
    }
  }
}

export interface ZoneFileOptions extends ZoneQuery {
  /** SOA serial; default the cloud's change clock. */
  serial?: number;
}

/**
 * One zone as an RFC 1035 master file, streamed: the header first, then the records batch by batch as
 * the allocations are read. Nothing is held but a batch. Before yielding anything it throws
 * DnsNotConfigured (no settings, or an in-zone name server without an address) or ZoneNotFound (a zone
 * the cloud, or the security zone `zone`, does not have).
 */
export async function* zoneFile(ipam: Ipam, cloud: string, zoneName: string, opts: ZoneFileOptions = {}): AsyncIterable<string> {
  const dns = await CloudDns.load(ipam, cloud, opts.config);
  const zone = normalizeName(zoneName);
  const shown = zoneName.slice(0, 260);
  if (!zone) throw invalid(`not a DNS zone name: ${JSON.stringify(shown)}`);
  const notFound = (why?: string) => new IpamError('ZoneNotFound', `cloud ${cloud} has no DNS zone ${JSON.stringify(shown)}${opts.zone !== undefined ? ` of zone ${opts.zone}` : ''}${why ? `: ${why}` : ''}`, { zone: shown });
  dns.requireSettings();
  const reverse = isReverseZone(zone);
  if (reverse && !parseReverseZone(zone)) throw notFound();
  if (!reverse) {
    if (!dns.isForwardZone(zone)) throw notFound(opts.zone === undefined ? dns.withheldReason(zone) : undefined);
    if (opts.zone !== undefined && dns.ownerOf(zone) !== opts.zone) throw notFound();
  }
  const pending = zoneAllocations(ipam, dns, zone, opts.zone)[Symbol.asyncIterator]();
  const emit = (batch: Allocation[]) => {
    let text = '';
    for (const a of batch) for (const r of dns.recordsOf(a)) if (r.zone === zone) text += recordLine(r);
    return text;
  };
  let first = '';
  if (reverse) {
    // A reverse zone exists while it has a record: read until the first one before answering.
    for (;;) {
      const n = await pending.next();
      if (n.done) throw notFound();
      first = emit(n.value);
      if (first) break;
    }
  }
  const serial = opts.serial ?? toSerial(await ipam.changeClock(cloud));
  yield dns.header(zone, serial);
  if (first) yield first;
  for (;;) {
    const n = await pending.next();
    if (n.done) break;
    const text = emit(n.value);
    if (text) yield text;
  }
}

/** Joins a streamed text (the API answers with a string body). */
export async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}
