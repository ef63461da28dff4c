/**
 * Uniqueness claims: what an allocation's MAC and hostname hold exclusively, besides its address.
 *
 *  - A MAC is unique per network: among the pools of one network (`net#<zone>#<network>`), or, for a
 *    pool outside networks, within the pool (its uid).
 *  - A hostname is a single label, or an FQDN inside its pool's domain (label + '.' + domain, any case,
 *    a trailing dot tolerated). It is unique within that domain: the claim is its FQDN. Without a
 *    domain only labels are accepted, and they claim nothing.
 *  - An allocation made by the zone route (`byZone`) holds its (zone, holder, name): one allocation per
 *    holder and name through that route in the zone, whichever pool it came from (its idempotency key).
 *
 * Pure: the engine writes one claim item per UniqueClaim inside the allocation's transaction.
 */
import { IpamError } from './errors.js';
import { holderOf, type Holder, type Pool } from './model.js';

export type UniqueClaim =
  /** `scope`: `net#<zone>#<network>` for a pool in a network, else the pool's uid. */
  | { kind: 'mac'; cloud: string; scope: string; value: string }
  /** `value`: the lowercased FQDN without the trailing dot. */
  | { kind: 'fqdn'; cloud: string; value: string }
  /** The zone route's idempotency key: (zone, holder, name) of an allocation made by `POST .../zones/{zone}/allocations`. */
  | { kind: 'zoneholder'; cloud: string; zone: string; holder: Holder; name: string };

/** Who holds a claim: enough to find the allocation, and to tell whether the claim still belongs to it. */
export interface ClaimOwner {
  cloud: string;
  zone: string;
  pool: string;
  poolUid: string;
  address: string;
  family: 4 | 6;
  vm?: string;
  vip?: string;
  name: string;
  /** Identifies the allocation the claim points at (pool incarnation, address, allocation time). */
  ref: string;
}

/** The scope in which a pool's MACs are unique. */
export function macScope(pool: Pick<Pool, 'zone' | 'network' | 'uid'>): string {
  return pool.network !== undefined ? `net#${pool.zone}#${pool.network}` : pool.uid;
}

const bare = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The FQDN a hostname names in `domain`, or undefined when it is not a name of that domain (or there is no domain). */
export function fqdnOf(hostname: string, domain: string | undefined): string | undefined {
  if (domain === undefined) return undefined;
  const h = bare(hostname);
  const d = bare(domain);
  const dot = h.indexOf('.');
  if (dot < 0) return `${h}.${d}`;
  return h.slice(dot + 1) === d ? h : undefined;
}

/**
 * Refuses a hostname that is neither a single label nor an FQDN of the pool's own domain (400,
 * HostnameOutsideDomain). `where` names the pool in the message.
 */
export function checkHostnameIn(hostname: string, domain: string | undefined, where: string): void {
  if (!bare(hostname).includes('.')) return;
  if (domain === undefined) {
    throw new IpamError('HostnameOutsideDomain', `hostname ${hostname} is a qualified name, but ${where} has no DNS domain: give a single label such as ${bare(hostname).split('.')[0]}`, { hostname });
  }
  if (fqdnOf(hostname, domain) === undefined) {
    throw new IpamError('HostnameOutsideDomain', `hostname ${hostname} is not in the domain ${bare(domain)} of ${where}: give a single label, or a name <label>.${bare(domain)}`, { hostname, domain: bare(domain) });
  }
}

/** What of an allocation its claims depend on (a record, or the fields of one being made). */
export interface Claiming {
  mac?: string;
  hostname?: string;
  /** Made by the zone route: then `name` and the holder (`vm` or `vip`) are its zone claim. */
  byZone?: boolean;
  vm?: string;
  vip?: string;
  name?: string;
}

/** The claims of an allocation with this MAC, hostname (and zone-route origin) in `pool`, whose hosts' domain is `domain`. */
export function claimsOf(pool: Pick<Pool, 'cloud' | 'zone' | 'network' | 'uid'>, a: Claiming, domain: string | undefined): UniqueClaim[] {
  const out: UniqueClaim[] = [];
  if (a.mac !== undefined) out.push({ kind: 'mac', cloud: pool.cloud, scope: macScope(pool), value: a.mac });
  const fqdn = a.hostname === undefined ? undefined : fqdnOf(a.hostname, domain);
  if (fqdn !== undefined) out.push({ kind: 'fqdn', cloud: pool.cloud, value: fqdn });
  if (a.byZone) out.push(zoneClaim(pool.cloud, pool.zone, holderOf(a), a.name ?? 'default'));
  return out;
}

/** The zone route's claim of (zone, holder, name). */
export const zoneClaim = (cloud: string, zone: string, holder: Holder, name: string): UniqueClaim => ({ kind: 'zoneholder', cloud, zone, holder, name });

/** A claim's identity as text (equal texts: the same claim item). */
export const claimText = (c: UniqueClaim) =>
  c.kind === 'mac' ? `mac#${c.cloud}#${c.scope}#${c.value}` : c.kind === 'fqdn' ? `fqdn#${c.cloud}#${c.value}` : `zoneholder#${c.cloud}#${c.zone}#${c.holder.kind}#${c.holder.id}#${c.name}`;

/** A claim for people: `MAC 52:54:…`, `hostname web-1.example.com`, `vm:x "eth0" in zone dmz`. */
export const claimLabel = (c: UniqueClaim) => (c.kind === 'mac' ? `MAC ${c.value}` : c.kind === 'fqdn' ? `hostname ${c.value}` : `${c.holder.kind}:${c.holder.id} ${JSON.stringify(c.name)} in zone ${c.zone}`);

export const sameClaim = (a: UniqueClaim, b: UniqueClaim) => claimText(a) === claimText(b);

/** The claim's reference to its allocation (see ClaimOwner.ref). */
export const claimRef = (poolUid: string, a: { address: string; allocatedAt: string }) => `${poolUid}#${a.address}#${a.allocatedAt}`;
