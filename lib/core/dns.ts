/**
 * Per-cloud DNS settings: who the zones of a cloud name as their primary name server (SOA MNAME, first
 * NS), their secondaries, their hostmaster (SOA RNAME) and their timers. Explicit settings, never
 * derived from the cloud's domains. Pure: name and address rules, validation and normalisation.
 */
import { invalid } from './errors.js';
import { formatAddress, parseAddress, type Family } from './ip.js';

/** A name server and the addresses zones that contain its name must carry for it (glue). */
export interface NameServer {
  name: string;
  addresses: string[];
}

/** Zone timers in seconds: `$TTL`, and SOA refresh, retry, expire and minimum (negative-caching TTL). */
export interface DnsTimers {
  ttl?: number;
  refresh?: number;
  retry?: number;
  expire?: number;
  negativeTtl?: number;
}

/** The settings of one cloud (`PUT /v1/clouds/{cloud}/dns`), normalised: lowercase names, canonical addresses. */
export interface DnsSettings extends DnsTimers {
  /** SOA MNAME and the first NS record: a fully qualified host name. */
  primaryNs: string;
  /** Addresses of the primary, written into every zone that contains its name. */
  primaryNsAddresses: string[];
  /** Further NS records. */
  secondaryNs: NameServer[];
  /** SOA RNAME: `hostmaster@example.com` (stored as given, lowercased) or the DNS form `hostmaster.example.com`. */
  hostmaster: string;
}

/** DnsSettings as stored, with who changed them last. */
export interface StoredDnsSettings extends DnsSettings {
  updatedAt: string;
  updatedBy: string;
}

export const DNS_TIMER_KEYS = ['ttl', 'refresh', 'retry', 'expire', 'negativeTtl'] as const;
/** Defaults of the timers when neither the cloud nor the deployment sets them. */
export const DNS_TIMER_DEFAULTS: Required<DnsTimers> = { ttl: 300, refresh: 3600, retry: 600, expire: 1209600, negativeTtl: 300 };
export const MAX_DNS_SECONDS = 2147483647;
export const MAX_SECONDARY_NS = 12;
export const MAX_NS_ADDRESSES = 16;

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A lowercase name without the trailing dot, or undefined when it is not a valid host/domain name. */
export function normalizeName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > 253) return undefined;
  return n.split('.').every((l) => LABEL_RE.test(l)) ? n : undefined;
}

/** `name` equals `zone` or lies below it. */
export const isUnder = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

export const isReverseZone = (zone: string) => /(^|\.)arpa$/.test(zone.toLowerCase().replace(/\.$/, ''));

/** A fully qualified host name (at least two labels, not under .arpa), normalised; undefined otherwise. */
export function fqdn(name: unknown): string | undefined {
  const n = normalizeName(name);
  return n && n.includes('.') && !isReverseZone(n) ? n : undefined;
}

/**
 * The SOA RNAME of a hostmaster: `hostmaster@example.com` (dots in the local part are escaped)
 * or already in DNS form (`hostmaster.example.com.`). Undefined when invalid.
 */
export function rname(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const at = text.indexOf('@');
  if (at < 0) {
    const n = normalizeName(text);
    return n && n.includes('.') ? `${n}.` : undefined;
  }
  const local = text.slice(0, at);
  const domain = normalizeName(text.slice(at + 1));
  if (!domain || !domain.includes('.') || !/^[A-Za-z0-9._+-]{1,63}$/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  return `${local.toLowerCase().replace(/\./g, '\\.')}.${domain}.`;
}

/** Loopback, unspecified and link-local addresses cannot be a name server's address in a published zone. */
function unusableNsAddress(family: Family, v: bigint): string | undefined {
  if (family === 4) {
    if (v >> 24n === 127n) return 'a loopback address';
    if (v >> 24n === 0n) return 'an unspecified address';
    if (v >> 16n === 0xa9fen) return 'a link-local address';
    if (v >> 28n === 0xen) return 'a multicast address';
    return undefined;
  }
  if (v === 0n) return 'the unspecified address';
  if (v === 1n) return 'a loopback address';
  if (v >> 118n === 0x3fan) return 'a link-local address';
  if (v >> 120n === 0xffn) return 'a multicast address';
  return undefined;
}

/** A name server's address, canonical; 400 for anything that is not a usable unicast address. */
export function nsAddress(text: unknown, what: string): { family: Family; address: string } {
  if (typeof text !== 'string') throw invalid(`${what} must be IP addresses`);
  const a = parseAddress(text.trim());
  const bad = unusableNsAddress(a.family, a.value);
  if (bad) throw invalid(`${what}: ${text} is ${bad}, which no other host can reach`);
  return { family: a.family, address: formatAddress(a.family, a.value) };
}

function addresses(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${what} must be a list of IP addresses`);
  if (v.length > MAX_NS_ADDRESSES) throw invalid(`${what}: at most ${MAX_NS_ADDRESSES} addresses`);
  return [...new Set(v.map((x) => nsAddress(x, what).address))];
}

function timer(v: unknown, key: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_DNS_SECONDS) throw invalid(`${key} must be a whole number of seconds from 0 to ${MAX_DNS_SECONDS}`);
  return v;
}

/** The timers of `input`, checked (absent ones stay absent). */
export function checkDnsTimers(input: Record<string, unknown>): DnsTimers {
  const out: DnsTimers = {};
  for (const k of DNS_TIMER_KEYS) {
    const t = timer(input[k], k);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/**
 * Validates and normalises a cloud's DNS settings (400 InvalidInput naming the field). Secondaries are
 * names, or `{name, addresses}` for one whose name lies inside a zone of the cloud (which then needs its address).
 */
export function checkDnsSettings(input: unknown): DnsSettings {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('DNS settings must be an object');
  const i = input as Record<string, unknown>;
  const primaryNs = fqdn(i.primaryNs);
  if (!primaryNs) throw invalid(`primaryNs must be a fully qualified host name such as ns1.example.com; got ${JSON.stringify(i.primaryNs)?.slice(0, 80)}`);
  const hostmasterText = typeof i.hostmaster === 'string' ? i.hostmaster.trim() : undefined;
  if (!hostmasterText || !rname(hostmasterText)) throw invalid(`hostmaster must be an e-mail address (hostmaster@example.com) or a domain name (hostmaster.example.com); got ${JSON.stringify(i.hostmaster)?.slice(0, 80)}`);
  const secondaryIn = i.secondaryNs ?? [];
  if (!Array.isArray(secondaryIn)) throw invalid('secondaryNs must be a list');
  if (secondaryIn.length > MAX_SECONDARY_NS) throw invalid(`secondaryNs: at most ${MAX_SECONDARY_NS} name servers`);
  const seen = new Set([primaryNs]);
  const secondaryNs: NameServer[] = [];
  for (const s of secondaryIn) {
    const raw: Record<string, unknown> = typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : { name: s };
    const extra = Object.keys(raw).filter((k) => k !== 'name' && k !== 'addresses');
    if (extra.length) throw invalid(`secondaryNs entries are names or {name, addresses}; unknown field ${JSON.stringify(extra[0])}`);
    const name = fqdn(raw.name);
    if (!name) throw invalid(`secondaryNs must hold fully qualified host names; got ${JSON.stringify(raw.name)?.slice(0, 80)}`);
    if (seen.has(name)) throw invalid(`name server ${name} is listed twice`);
    seen.add(name);
    secondaryNs.push({ name, addresses: addresses(raw.addresses, `the addresses of ${name}`) });
  }
  return {
    primaryNs,
    primaryNsAddresses: addresses(i.primaryNsAddresses, 'primaryNsAddresses'),
    secondaryNs,
    hostmaster: hostmasterText.toLowerCase().replace(/\.$/, ''),
    ...checkDnsTimers(i),
  };
}
