/**
 * Allocation by zone (`POST /v1/clouds/{cloud}/zones/{zone}/allocations`): an address (or block) from
 * whichever pool of the zone has room, so a pipeline need not know pool names.
 *
 *  - Idempotent per (zone, holder, name): the allocation this route makes takes one more uniqueness
 *    claim in its own transaction (lib/core/uniqueness.ts `zoneholder`: `ZHELD#…`), and records that it
 *    holds it (`byZone`), so release, grouped release and repair give the claim up like a MAC's. A
 *    request first reads the claim (consistently): held, its allocation is the answer, whatever pool
 *    would be chosen now (the repeat rules of the pool route apply: a field given with another value is
 *    409 IdempotentParameterMismatch).
 *  - The candidates (lib/core/zone-allocation.ts) are tried in order, each as an ordinary allocation of
 *    that pool (group commit included). A pool with no room (PoolExhausted), gone or being imported
 *    meanwhile passes to the next, without reaching the caller; any other error is the answer.
 *  - A concurrent identical request that loses the claim, in this pool or another, gets the winner's
 *    allocation (allocations.ts, `zoneholder` conflicts; `created: false`), never a second address.
 */
import { invalid, IpamError, isIpamError } from '../core/errors.js';
import type { Allocation, CallContext, Holder, Pool } from '../core/model.js';
import { zoneClaim } from '../core/uniqueness.js';
import { checkAllocationName, checkName } from '../core/validate.js';
import { checkPoolFilter, zoneCandidates, type ZoneAllocateRequest } from '../core/zone-allocation.js';
import type { Allocations } from './allocations.js';
import { checkHolder, checkPrefix } from './checks.js';
import { heldClaim } from './claims.js';
import type { Engine } from './context.js';
import type { GroupCommit } from './group-commit.js';
import { fieldsOf, type RecordFields } from './records.js';

/** Whether `pool` can hand out a block of `prefixLength` (undefined: its default size, an address or its default block). */
function serves(pool: Pool, prefixLength: number | undefined): boolean {
  // A prefix pool hands out blocks of its own prefix length only (without one asked for: that block).
  if (pool.prefixPool) return prefixLength === undefined || prefixLength === pool.prefixLength;
  try {
    checkPrefix(pool.family, prefixLength ?? pool.prefixLength, 'prefixLength');
    return true;
  } catch {
    return false;
  }
}

export class ZoneAllocations {
  constructor(
    private readonly e: Engine,
    private readonly allocations: Allocations,
    private readonly groups: GroupCommit,
  ) {}

  /** The allocation; `pool` when this engine just used the pool's definition (the answer's network is taken from it). */
  async allocate(req: ZoneAllocateRequest, ctx: CallContext): Promise<{ allocation: Allocation; created: boolean; pool?: Pool }> {
    const cloud = checkName('cloud', req.cloud);
    const zone = checkName('zone', req.zone);
    if ((req as { address?: unknown }).address !== undefined) throw invalid("address: a specific address is allocated through its pool's route (POST .../zones/{zone}/pools/{pool}/allocations), not the zone's");
    if (req.family !== undefined && req.family !== 4 && req.family !== 6) throw invalid('family must be 4 or 6');
    const filter = checkPoolFilter(req.pools);
    const fields: RecordFields = { ...fieldsOf(req), byZone: true };
    const claim = zoneClaim(cloud, zone, fields.holder, fields.name);
    // Asked before: that allocation, even if another pool would be chosen now.
    const held = await heldClaim(this.e, claim);
    if (held) return this.repeat(held, req, fields);
    const { family: _family, pools: _pools, ...base } = req;
    const asked = { family: req.family, prefixLength: req.prefixLength, pools: filter };
    const tried = new Map<string, string>(); // pool uid -> name, in the order tried
    const skipped = new Map<string, string>();
    // The cloud's pools as cached (<= 5 s); when they offer nothing (a pool just made, a name not seen
    // yet, every pool full), read afresh once and try the pools not tried yet.
    for (const fresh of [false, true]) {
      const { pools } = await this.e.cache.cloud(cloud, fresh);
      let candidates;
      try {
        candidates = zoneCandidates(pools, cloud, zone, asked, serves);
      } catch (e) {
        if (!fresh && isIpamError(e, 'InvalidInput')) continue;
        throw e;
      }
      for (const s of candidates.skipped) skipped.set(s.pool, s.why);
      for (const pool of candidates.pools) {
        if (tried.has(pool.uid)) continue;
        tried.set(pool.uid, pool.name);
        skipped.delete(pool.name);
        try {
          const r = await this.groups.allocateFields({ ...base, cloud, zone, pool: pool.name, holder: fields.holder, name: fields.name }, fields, ctx);
          return r.created ? r : this.repeat(r.allocation, req, fields);
        } catch (e) {
          // Full, deleted, or being imported since the pools were read: the next one.
          if (isIpamError(e, 'PoolExhausted') || isIpamError(e, 'PoolNotFound') || (isIpamError(e, 'Contention') && e.details.importing === true)) continue;
          throw e;
        }
      }
    }
    // Every candidate was full; a concurrent identical request may have taken the last address meanwhile.
    const won = await heldClaim(this.e, claim);
    if (won) return this.repeat(won, req, fields);
    const what = req.prefixLength !== undefined ? `/${req.prefixLength} block` : req.family !== undefined ? `IPv${req.family} address` : 'address';
    const names = [...tried.values()];
    const notes = [...skipped].map(([p, why]) => `${p}: ${why}`);
    throw new IpamError(
      'PoolExhausted',
      `zone ${zone} of cloud ${cloud} has no free ${what}${names.length ? ` in ${names.join(', ')}` : tried.size === 0 && notes.length === 0 ? ': it has no pool' : ''}${notes.length ? ` (not tried: ${notes.join('; ')})` : ''}`,
      { zone, pools: names },
    );
  }

  /** What the zone route's (zone, holder, name) holds, if anything (one consistent read). */
  async held(cloud: string, zone: string, holder: Holder, name: string): Promise<Allocation | undefined> {
    return heldClaim(this.e, zoneClaim(checkName('cloud', cloud), checkName('zone', zone), checkHolder(holder), checkAllocationName(name)));
  }

  /** An earlier allocation for the same (zone, holder, name): the pool route's repeat rules, and the family if given. */
  private repeat(existing: Allocation, req: ZoneAllocateRequest, fields: RecordFields): { allocation: Allocation; created: boolean } {
    if (req.family !== undefined && existing.family !== req.family) {
      throw new IpamError('IdempotentParameterMismatch', `${fields.holder.kind}:${fields.holder.id} already holds ${existing.cidr} as ${JSON.stringify(existing.name)} in zone ${existing.zone} (pool ${existing.pool}), not an IPv${req.family} address; release it first, or use another name`, { cidr: existing.cidr, fields: ['family'] });
    }
    return this.allocations.repeat(existing, req, fields);
  }
}
