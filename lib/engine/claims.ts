/**
 * Uniqueness claims in the engine: which claims an allocation takes (MAC in its network or pool,
 * FQDN in its pool's domain, the zone route's (zone, holder, name); lib/core/uniqueness.ts), who holds
 * one now, and what a held one means: a 409 naming the holder (only within the caller's zone), or,
 * when the claim no longer belongs to the allocation it points at (released by an older version, renamed after a domain change, a replica's leftover), a
 * stale claim that is dropped so the caller can try again.
 */
import { IpamError } from '../core/errors.js';
import { parseAddress } from '../core/ip.js';
import { holderOf, holderText, spaceOf, type Allocation, type Holder, type Pool } from '../core/model.js';
import { checkHostnameIn, claimLabel, claimsOf, claimText, sameClaim, type ClaimOwner, type UniqueClaim } from '../core/uniqueness.js';
import type { Engine } from './context.js';
import type { ClaimConflict } from './store.js';

/** The claims of an allocation with these fields in `pool`; a hostname outside the pool's domain is refused (400). */
export async function claimsFor(e: Engine, pool: Pool, f: { mac?: string; hostname?: string; byZone?: boolean; holder?: Holder; name?: string }): Promise<UniqueClaim[]> {
  if (f.mac === undefined && f.hostname === undefined && !f.byZone) return [];
  const domain = f.hostname === undefined ? undefined : await e.domainOf(pool);
  if (f.hostname !== undefined) checkHostnameIn(f.hostname, domain, `pool ${pool.cloud}/${pool.zone}/${pool.name}`);
  return claimsOf(pool, { ...f, ...(f.holder ? { [f.holder.kind]: f.holder.id } : {}) }, domain);
}

/**
 * The allocation a held claim points at (`owner`, from the claim item), if it still holds the claim. If
 * it does not (released by an older version, renamed after a domain change, a replica's leftover), the
 * claim is stale: it is dropped, and the answer is undefined (try again).
 */
export async function claimHolder(e: Engine, claim: UniqueClaim, owner: ClaimOwner): Promise<Allocation | undefined> {
  // The pool first: a prefix pool's record is keyed by its block (the pool's slot space). A cached pool of
  // another incarnation is read again before the claim is judged by it.
  const poolOf = (fresh: boolean) => e.cache.requirePool(owner.cloud, owner.zone, owner.pool, fresh).catch(() => undefined);
  let pool = await poolOf(false);
  if (pool && pool.uid !== owner.poolUid) pool = await poolOf(true);
  if (pool?.uid === owner.poolUid) {
    const a = await e.store.getAllocationAt(owner.cloud, owner.family, parseAddress(owner.address).value, spaceOf(pool).slot);
    const same = a && a.zone === owner.zone && a.pool === owner.pool && a.name === owner.name && holderText(holderOf(a)) === holderText(holderOf(owner));
    if (same && claimsOf(pool, a, await e.domainOf(pool)).some((c) => sameClaim(c, claim))) return a;
  }
  await e.store.dropClaim(claim, owner);
  return undefined;
}

/** The allocation holding `claim` now (one consistent read), if any; a stale claim is dropped on the way. */
export async function heldClaim(e: Engine, claim: UniqueClaim): Promise<Allocation | undefined> {
  const owner = (await e.store.claimOwners([claim])).get(claimText(claim));
  return owner && claimHolder(e, claim, owner);
}

/**
 * What a held claim means for a caller in `zone`: the 409 to answer, or 'stale' when the claim did not
 * belong to its allocation any more and has been dropped (try again).
 */
export async function claimConflict(e: Engine, { claim, owner }: Pick<ClaimConflict, 'claim' | 'owner'>, zone: string): Promise<IpamError | 'stale'> {
  const holder = await claimHolder(e, claim, owner);
  if (!holder) return 'stale';
  // Another zone's holder is never named (a zone's caller may not learn what another zone holds).
  const by = owner.zone === zone ? ` by ${holderText(holderOf(owner))} (${owner.address} in pool ${owner.zone}/${owner.pool})` : ' in another zone';
  if (claim.kind === 'mac') {
    const where = claim.scope.startsWith('net#') ? `network ${claim.scope.split('#')[2]}` : `pool ${owner.zone}/${owner.pool}`;
    return new IpamError('MacTaken', `MAC ${claim.value} is already held in ${where}${by}; a MAC is unique per network`, { mac: claim.value });
  }
  if (claim.kind === 'fqdn') return new IpamError('HostnameTaken', `hostname ${claim.value} is already held${by}; a hostname is unique within its domain`, { fqdn: claim.value });
  // The zone route answers its own claim's holder (zone-allocations.ts); nothing else takes one.
  return new IpamError('IdempotentParameterMismatch', `${claimLabel(claim)} already holds ${holder.cidr} through the zone route`, { cidr: holder.cidr });
}
