/**
 * Uniqueness claims: what an allocation's MAC and hostname hold exclusively, besides its address.
 *
 *  - A MAC is unique per network: among the pools of one network (`net#<zone>#<network>`), or, for a
 *    pool outside networks, within the pool (its uid).
 *  - A hostname is a single label, or an FQDN inside its pool's domain (label + '.' + domain, any case,
 *    a trailing dot tolerated). It is unique within that domain: the claim is its FQDN. Without a
 *    domain only labels are accepted, and they claim nothing.
 *
 * Pure: the engine writes one claim item per UniqueClaim inside the allocation's transaction.
 */
import { IpamError } from './errors.js';
import type { Pool } from './model.js';

export type UniqueClaim =
  /** `scope`: `net#<zone>#<network>` for a pool in a network, else the pool's uid. */
  | { kind: 'mac'; cloud: string; scope: string; value: string }
  /** `value`: the lowercased FQDN without the trailing dot. */
  | { kind: 'fqdn'; cloud: string; value: string };

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

/** The claims of an allocation with this MAC and hostname in `pool`, whose hosts' domain is `domain`. */
export function claimsOf(pool: Pick<Pool, 'cloud' | 'zone' | 'network' | 'uid'>, a: { mac?: string; hostname?: string }, domain: string | undefined): UniqueClaim[] {
  const out: UniqueClaim[] = [];
  if (a.mac !== undefined) out.push({ kind: 'mac', cloud: pool.cloud, scope: macScope(pool), value: a.mac });
  const fqdn = a.hostname === undefined ? undefined : fqdnOf(a.hostname, domain);
  if (fqdn !== undefined) out.push({ kind: 'fqdn', cloud: pool.cloud, value: fqdn });
  return out;
}

/** A claim's identity as text (equal texts: the same claim item). */
export const claimText = (c: UniqueClaim) => (c.kind === 'mac' ? `mac#${c.cloud}#${c.scope}#${c.value}` : `fqdn#${c.cloud}#${c.value}`);

export const sameClaim = (a: UniqueClaim, b: UniqueClaim) => claimText(a) === claimText(b);

/** The claim's reference to its allocation (see ClaimOwner.ref). */
export const claimRef = (poolUid: string, a: { address: string; allocatedAt: string }) => `${poolUid}#${a.address}#${a.allocatedAt}`;
