/**
 * Input rules shared by the engine (typed errors) and the API schemas (zod).
 */
import { invalid, IpamError } from './errors.js';
import type { Json, Tags } from './model.js';

export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const HOLDER_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
export const ALLOCATION_NAME_RE = /^[A-Za-z0-9._:-]{1,128}$/;
export const SLOT_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const MAC_RE = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;
export const HOSTNAME_RE = /^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
export const DOMAIN_RE = HOSTNAME_RE;

export const LIMITS = {
  rangesPerPool: 1000,
  excludesPerPool: 10_000,
  tags: 50,
  tagKey: 128,
  tagValue: 256,
  metadataBytes: 16 * 1024,
  metadataDepth: 10,
  pageSize: 1000,
  quarantineSeconds: 365 * 24 * 3600,
  /** A block may span at most this many 256-address chunks (one transaction). */
  blockChunks: 64,
  /** Addresses one environment may hold (it is applied in many transactions, not one). */
  environmentAddresses: 1000,
  environmentSlots: 200,
} as const;

/**
 * The one key no request may use at any depth: `__proto__`. JavaScript assignment turns it into the
 * object's prototype, zod drops it, and the AWS SDK's marshaller and wire serializer lose it, so it
 * cannot round-trip; it is refused instead of being silently lost. Every other key (`constructor`,
 * `prototype`, `toString`, `hasOwnProperty`, `valueOf`, ...) is ordinary data and round-trips.
 */
export const RESERVED_KEY = '__proto__';

/** Refuses a JSON value that has `__proto__` as an own key anywhere in it (400, reason ReservedKey). */
export function checkNoReservedKey(v: unknown, path = ''): void {
  if (Array.isArray(v)) return v.forEach((x, i) => checkNoReservedKey(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return;
  for (const k of Object.keys(v)) {
    const at = path ? `${path}.${k}` : k;
    if (k === RESERVED_KEY) throw new IpamError('ReservedKey', `${JSON.stringify(RESERVED_KEY)} cannot be used as a key (at ${at}): it cannot be stored and read back unchanged`, { path: at });
    checkNoReservedKey((v as Record<string, unknown>)[k], at);
  }
}

export function checkName(what: string, v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw invalid(`${what} must match ${NAME_RE.source}; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

export function checkHolderId(what: string, v: unknown): string {
  if (typeof v !== 'string' || !HOLDER_ID_RE.test(v)) throw invalid(`${what} must be 1-128 characters of [A-Za-z0-9._:-]; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

export function checkAllocationName(v: unknown): string {
  if (typeof v !== 'string' || !ALLOCATION_NAME_RE.test(v)) throw invalid(`name must be 1-128 characters of [A-Za-z0-9._:-]; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

export function normalizeMac(v: unknown): string {
  if (typeof v !== 'string' || !MAC_RE.test(v)) throw invalid(`mac must look like 52:54:00:12:34:56; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v.toLowerCase().replace(/-/g, ':');
}

export function checkHostname(v: unknown): string {
  if (typeof v !== 'string' || !HOSTNAME_RE.test(v)) throw invalid(`hostname must be a DNS label or a fully qualified name; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v.toLowerCase();
}

/** A DNS domain, lowercased and without a trailing dot; `dotted` (the default) asks for at least two labels. */
export function checkDomain(what: string, v: unknown, dotted = true): string {
  if (typeof v !== 'string' || !DOMAIN_RE.test(v) || (dotted && !v.replace(/\.$/, '').includes('.'))) {
    throw invalid(`${what} must be a DNS domain such as prod.example.com; got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return v.toLowerCase().replace(/\.$/, '');
}

/** A pool's or network's `dns` setting: `{domain}`, the domain normalized. */
export function checkDns(d: unknown, what = 'dns.domain'): { domain: string } | undefined {
  if (d === undefined) return undefined;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalid(`${what.split('.')[0]} must be an object such as {"domain": "prod.example.com"}`);
  const domain = checkDomain(what, (d as { domain?: unknown }).domain);
  // Reverse zones come from the networks' addresses (docs/design.md, DNS zones); a forward domain under .arpa would claim names there.
  if (domain === 'arpa' || domain.endsWith('.arpa')) throw invalid(`${what} ${domain} is under .arpa, where the reverse zones are made from the networks' addresses; give a forward domain such as prod.example.com`);
  return { domain };
}

export function checkTags(v: unknown): Tags {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('tags must be an object of strings');
  checkNoReservedKey(v, 'tags');
  const entries = Object.entries(v);
  if (entries.length > LIMITS.tags) throw invalid(`at most ${LIMITS.tags} tags`);
  for (const [k, val] of entries) {
    if (k.length === 0 || k.length > LIMITS.tagKey) throw invalid(`tag keys are 1-${LIMITS.tagKey} characters`);
    if (typeof val !== 'string' || val.length > LIMITS.tagValue) throw invalid(`tag ${JSON.stringify(k)} must be a string of at most ${LIMITS.tagValue} characters`);
  }
  return { ...(v as Tags) };
}

function depth(v: unknown, d: number): number {
  if (d > LIMITS.metadataDepth + 1) return d;
  if (Array.isArray(v)) return v.reduce((m: number, x) => Math.max(m, depth(x, d + 1)), d);
  if (v !== null && typeof v === 'object') return Object.values(v).reduce((m: number, x) => Math.max(m, depth(x, d + 1)), d);
  return d;
}

export function checkMetadata(v: unknown): Record<string, Json> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('metadata must be a JSON object');
  if (depth(v, 0) > LIMITS.metadataDepth) throw invalid(`metadata nests deeper than ${LIMITS.metadataDepth} levels`);
  checkNoReservedKey(v, 'metadata');
  const size = Buffer.byteLength(JSON.stringify(v));
  if (size > LIMITS.metadataBytes) throw invalid(`metadata is ${size} bytes; the limit is ${LIMITS.metadataBytes}`);
  return v as Record<string, Json>;
}
