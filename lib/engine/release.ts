/**
 * Release: one address or block (guarded by the holder when asked), or everything a holder holds;
 * a released single address stays in the pool's quarantine.
 */
import { chunkBaseOf, offsetIn } from '../core/chunk.js';
import { IpamError } from '../core/errors.js';
import { blockSize, formatAddress, parseAddress } from '../core/ip.js';
import { holderText, type Allocation, type CallContext, type Holder } from '../core/model.js';
import { blockChanges } from '../core/planner.js';
import { RACED, retrying } from './retry.js';
import { checkHolder } from './checks.js';
import type { ChunkChange } from './store.js';
import { checkName } from '../core/validate.js';
import type { Engine } from './context.js';
import type { Allocations } from './allocations.js';
import { claimsOf } from '../core/uniqueness.js';


export class Releases {
  constructor(private readonly e: Engine, private readonly allocations: Allocations) {}

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
      return (await this.releaseOne(found, ctx)) === 'ok' ? found : RACED;
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
    const start = parseAddress(a.address).value;
    const size = blockSize(a.family, a.prefixLength);
    const chunks: ChunkChange[] = size === 1n ? [{ base: chunkBaseOf(start), offsets: [offsetIn(start)] }] : blockChanges(start, size, a.cidr);
    const quarantineUntil = size === 1n && pool.quarantineSeconds ? this.e.now() + pool.quarantineSeconds * 1000 : 0;
    // Its MAC and hostname claims are given up with the address (those that still point at it).
    const claims = a.mac !== undefined || a.hostname !== undefined ? claimsOf(pool, a, a.hostname === undefined ? undefined : await this.e.domainOf(pool)) : [];
    const r = await this.e.store.commitRelease({
      pool,
      allocation: a,
      chunks,
      shard: Math.floor(Math.random() * pool.shards),
      addressCount: size,
      quarantineUntil,
      releasedAt: new Date(this.e.now()).toISOString(),
      releasedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      claims,
    });
    for (const ch of chunks) this.e.cache.forgetChunk(pool, ch.base);
    return r;
  }

}
