/**
 * Uniqueness claims in the engine: which claims an allocation takes (MAC in its network or pool,
 * FQDN in its pool's domain; lib/core/uniqueness.ts), and what a held one means: a 409 naming the
 * holder (only within the caller's zone), or, when the claim no longer belongs to the allocation it
 * points at (released by an older version, renamed after a domain change, a replica's leftover), a
 * stale claim that is dropped so the caller can try again.
 */
import { IpamError } from '../core/errors.js';
import { parseAddress } from '../core/ip.js';
import { holderOf, holderText, type Pool } from '../core/model.js';
import { checkHostnameIn, claimsOf, sameClaim, type UniqueClaim } from '../core/uniqueness.js';
import type { Engine } from './context.js';
import type { ClaimConflict } from './store.js';

/** The claims of an allocation with this MAC and hostname in `pool`; a hostname outside the pool's domain is refused (400). */
export async function claimsFor(e: Engine, pool: Pool, f: { mac?: string; hostname?: string }): Promise<UniqueClaim[]> {
  if (f.mac === undefined && f.hostname === undefined) return [];
  const domain = f.hostname === undefined ? undefined : await e.domainOf(pool);
  if (f.hostname !== undefined) checkHostnameIn(f.hostname, domain, `pool ${pool.cloud}/${pool.zone}/${pool.name}`);
  return claimsOf(pool, f, domain);
}

/**
 * What a held claim means for a caller in `zone`: the 409 to answer, or 'stale' when the claim did not
 * belong to its allocation any more and has been dropped (try again).
 */
export async function claimConflict(e: Engine, { claim, owner }: Pick<ClaimConflict, 'claim' | 'owner'>, zone: string): Promise<IpamError | 'stale'> {
  const a = await e.store.getAllocationAt(owner.cloud, owner.family, parseAddress(owner.address).value);
  let holds = false;
  if (a && a.zone === owner.zone && a.pool === owner.pool && a.name === owner.name && holderText(holderOf(a)) === holderText(holderOf(owner))) {
    const pool = await e.cache.requirePool(a.cloud, a.zone, a.pool).catch(() => undefined);
    if (pool?.uid === owner.poolUid) holds = claimsOf(pool, a, await e.domainOf(pool)).some((c) => sameClaim(c, claim));
  }
  if (!holds) {
    await e.store.dropClaim(claim, owner);
    return 'stale';
  }
  // Another zone's holder is never named (a zone's caller may not learn what another zone holds).
  const by = owner.zone === zone ? ` by ${holderText(holderOf(owner))} (${owner.address} in pool ${owner.zone}/${owner.pool})` : ' in another zone';
  if (claim.kind === 'mac') {
    const where = claim.scope.startsWith('net#') ? `network ${claim.scope.split('#')[2]}` : `pool ${owner.zone}/${owner.pool}`;
    return new IpamError('MacTaken', `MAC ${claim.value} is already held in ${where}${by}; a MAC is unique per network`, { mac: claim.value });
  }
  return new IpamError('HostnameTaken', `hostname ${claim.value} is already held${by}; a hostname is unique within its domain`, { fqdn: claim.value });
}
