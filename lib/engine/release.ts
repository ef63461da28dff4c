/**
 * Release: one address or block (guarded by the holder when asked), or everything a holder holds;
 * a released single address stays in the pool's quarantine.
 */
import { chunkBaseOf, offsetIn, slotOf } from '../core/chunk.js';
import { IpamError } from '../core/errors.js';
import { BITS, blockSize, formatAddress, parseAddress } from '../core/ip.js';
import { holderText, spaceOf, type Allocation, type CallContext, type Holder, type Pool } from '../core/model.js';
import { blockChanges } from '../core/planner.js';
import { RACED, retrying } from './retry.js';
import { checkHolder } from './checks.js';
import type { ChunkChange, ReleaseCommit } from './store.js';
import { checkName } from '../core/validate.js';
import type { Engine } from './context.js';
import type { Allocations } from './allocations.js';
import { poolKey } from './cache.js';
import { Lanes, type Waiter } from '../core/lanes.js';
import { claimsOf } from '../core/uniqueness.js';

/** A found single-address allocation to release, and the call that releases it. */
interface Releasing {
  a: Allocation;
  ctx: CallContext;
}

/**
 * Releases in one group transaction at most: each writes 2 to 4 items (allocation, claim, MAC and
 * FQDN claims), a chunk item per chunk touched (at most one each) and one shard for the group: at
 * most 81 of a transaction's 100.
 */
const RELEASE_GROUP_MAX = 16;

export class Releases {
  /**
   * Group commit of releases: concurrent single-address releases of one pool that arrive while the
   * engine has `groupCommit` release transactions of that pool in flight wait and go together in one
   * transaction (and one durability barrier). As for allocations (group-commit.ts) a group is an
   * optimisation, never a shared fate: if its transaction fails, each member is released on its own.
   */
  private readonly lanes: Lanes<Releasing, 'ok' | 'raced'>;

  constructor(private readonly e: Engine, private readonly allocations: Allocations) {
    this.lanes = new Lanes({
      slots: e.groupCommit,
      max: RELEASE_GROUP_MAX,
      identity: (r) => r.a.address,
      alone: (r) => this.releaseOne(r.a, r.ctx),
      together: (group) => this.releaseGroup(group),
    });
  }

  /** Releases an address; with `zone`, only one of that zone (another zone's is AllocationNotFound). */
  async release(cloud: string, address: string, guard: Holder | undefined, ctx: CallContext, zone?: string): Promise<Allocation> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const a = parseAddress(address);
    if (guard) checkHolder(guard);
    return retrying('releasing', this.e.maxAttempts, async () => {
      const found = await this.allocations.findAllocation(cloud, a.family, a.value, zone);
      if (!found) throw new IpamError('AllocationNotFound', `${formatAddress(a.family, a.value)} is not allocated in cloud ${cloud}`, { address });
      if (guard && (guard.kind === 'vm' ? found.vm !== guard.id : found.vip !== guard.id)) {
        // Never name the real holder: the guard is the caller's claim, and a wrong claim must not reveal who holds it.
        throw new IpamError('HolderMismatch', `${found.cidr} is not held by ${holderText(guard)} (it is held by another holder); nothing was released`, { cidr: found.cidr });
      }
      // One slot each (an address, or a prefix pool's block): releases of the pool may go together.
      const single = found.prefixLength === BITS[found.family] || this.e.cache.cachedPool(found.cloud, found.zone, found.pool)?.prefixPool === true;
      return (await (single ? this.lanes.run(poolKey(found.cloud, found.zone, found.pool), { a: found, ctx }) : this.releaseOne(found, ctx))) === 'ok' ? found : RACED;
    });
  }

  /** Releases everything the holder holds in the cloud, or with `zone` in that zone only. */
  async releaseHolder(cloud: string, holder: Holder, ctx: CallContext, zone?: string): Promise<Allocation[]> {
    const released: Allocation[] = [];
    for (const a of await this.allocations.byHolder(cloud, holder, zone)) {
      try {
        released.push(await this.release(cloud, a.address, holder, ctx, zone));
      } catch (e) {
        if (!(e instanceof IpamError && e.reason === 'AllocationNotFound')) throw e;
      }
    }
    return released;
  }

  private async releaseOne(a: Allocation, ctx: CallContext): Promise<'ok' | 'raced'> {
    const pool = await this.e.cache.requirePool(a.cloud, a.zone, a.pool);
    const c = await this.releaseCommit(pool, a, ctx, this.e.now());
    const r = await this.e.store.commitRelease(c);
    for (const ch of c.chunks) this.e.cache.forgetChunk(pool, ch.base);
    return r;
  }

  /** One transaction for a group of single-address releases of one pool; if it fails, each member goes on its own. */
  private async releaseGroup(group: Waiter<Releasing, 'ok' | 'raced'>[]): Promise<void> {
    const alone = () => Promise.all(group.map((w) => this.releaseOne(w.item.a, w.item.ctx).then(w.resolve, w.reject)));
    if (group.length === 1) return void (await alone());
    const { a } = group[0]!.item;
    const pool = await this.e.cache.requirePool(a.cloud, a.zone, a.pool);
    const now = this.e.now();
    const commits = await Promise.all(group.map((w) => this.releaseCommit(pool, w.item.a, w.item.ctx, now)));
    const outcome = await this.e.store.commitReleases(commits).catch(() => 'failed' as const);
    for (const c of commits) for (const ch of c.chunks) this.e.cache.forgetChunk(pool, ch.base);
    if (outcome === 'ok') group.forEach((w) => w.resolve('ok'));
    else await alone();
  }

  /** What releasing `a` writes, as of `now`. */
  private async releaseCommit(pool: Pool, a: Allocation, ctx: CallContext, now: number): Promise<ReleaseCommit> {
    // In the pool's slots: a prefix pool's block is one slot; an address pool's block spans its addresses.
    const start = slotOf(spaceOf(pool), parseAddress(a.address).value);
    const addresses = blockSize(a.family, a.prefixLength);
    const size = pool.prefixPool ? 1n : addresses;
    const chunks: ChunkChange[] = size === 1n ? [{ base: chunkBaseOf(start), offsets: [offsetIn(start)] }] : blockChanges(start, size, a.cidr);
    // Its MAC, hostname and zone claims are given up with the address (those that still point at it).
    const claims = a.mac !== undefined || a.hostname !== undefined || a.byZone ? claimsOf(pool, a, a.hostname === undefined ? undefined : await this.e.domainOf(pool)) : [];
    return {
      pool,
      allocation: a,
      chunks,
      shard: Math.floor(Math.random() * pool.shards),
      addressCount: addresses,
      quarantineUntil: size === 1n && pool.quarantineSeconds ? now + pool.quarantineSeconds * 1000 : 0,
      releasedAt: new Date(now).toISOString(),
      releasedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      claims,
    };
  }

}
