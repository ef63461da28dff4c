/**
 * What the engine's use cases share: the store (the port, private to the engine), the caches, the
 * clock and the limits. Built once by the Ipam facade.
 */
import { spaceOf, type Pool, type PoolUsage } from '../core/model.js';
import { slotAddresses } from '../core/chunk.js';
import type { EngineCache } from './cache.js';
import type { Store } from './store.js';

export interface Engine {
  readonly store: Store;
  readonly cache: EngineCache;
  readonly now: () => number;
  /** Attempts before a step gives up with a Contention error. */
  readonly maxAttempts: number;
  /** Counter shards per new pool. */
  readonly shards: number;
  /** Group-commit slots per pool (0: off). */
  readonly groupCommit: number;
  /**
   * The forward DNS domain of a pool's hosts (hostnames are labels or FQDNs in it, unique in it), or
   * undefined: then hostnames are labels and claim nothing.
   */
  readonly domainOf: (pool: Pool) => Promise<string | undefined>;
}

/** The pool's size, allocated and free addresses, from its counter shards. */
export async function usageOf(store: Store, pool: Pool): Promise<PoolUsage> {
  const shards = await store.readShards(pool);
  return usageFrom(pool, shards.reduce((n, s) => n + s.allocated, 0n));
}

/** Usage from the allocated addresses; a prefix pool's also in blocks. */
export function usageFrom(pool: Pool, allocated: bigint): PoolUsage {
  const free = BigInt(pool.size) - allocated;
  const usage: PoolUsage = { size: pool.size, allocated: allocated.toString(), free: free.toString() };
  if (!pool.prefixPool) return usage;
  const per = slotAddresses(spaceOf(pool));
  return { ...usage, blocks: { size: (BigInt(pool.size) / per).toString(), allocated: (allocated / per).toString(), free: (free / per).toString() } };
}

