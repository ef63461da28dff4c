/**
 * The allocation engine: the IPAM's domain operations over a Store. This is the facade: the public
 * contract, one line per operation, delegating to one module per concern (pools, allocations,
 * group-commit, release, import; planning is lib/core/planner.ts). The store is private to it.
 *
 * Allocation picks a random chunk (256 aligned addresses) of the pool and a random free
 * offset in it, then commits one transaction whose conditions make a double hand-out
 * impossible. A lost condition means someone else was faster: the engine learns the
 * chunk's real state from the failure and tries again elsewhere.
 */
import type { Allocation, Pool } from '../core/model.js';
import { checkName } from '../core/validate.js';
import { Allocations } from './allocations.js';
import { EngineCache } from './cache.js';
import type { Engine } from './context.js';
import { DnsSettingsOps } from './dns-settings.js';
import { GroupCommit } from './group-commit.js';
import { Importer } from './import.js';
import { Pools } from './pools.js';
import { Releases } from './release.js';
import type { Store } from './store.js';

export interface EngineOptions {
  /** Counter shards per new pool (each also fences topology changes). */
  shards?: number;
  /** Attempts before an allocation gives up with a 503-style Contention error. */
  maxAttempts?: number;
  /** How long a cached pool definition may be used before it is read again. */
  poolCacheMs?: number;
  /**
   * Group commit: concurrent single-address allocations from one pool that arrive while this engine
   * already has `groupCommit` transactions in flight for that pool wait and then go together, up to
   * 48 in one transaction (one chunk item, one counter shard, a record and a claim each). 0 turns it
   * off. Default 4. An engine serving one request at a time (a Lambda invocation) never groups.
   */
  groupCommit?: number;
  now?: () => number;
}

type Args<K extends keyof T, T> = T[K] extends (...a: infer A) => unknown ? A : never;

export class Ipam {
  private readonly pools: Pools;
  private readonly allocations: Allocations;
  private readonly groups: GroupCommit;
  private readonly releases: Releases;
  private readonly importer: Importer;
  private readonly dns: DnsSettingsOps;

  constructor(
    private readonly store: Store,
    opts: EngineOptions = {},
  ) {
    const now = opts.now ?? Date.now;
    const e: Engine = {
      store,
      cache: new EngineCache(store, now, opts.poolCacheMs ?? 5000),
      now,
      maxAttempts: opts.maxAttempts ?? 40,
      shards: opts.shards ?? 16,
      groupCommit: opts.groupCommit ?? 4,
    };
    this.pools = new Pools(e);
    this.allocations = new Allocations(e);
    this.groups = new GroupCommit(e, this.allocations);
    this.releases = new Releases(e, this.allocations);
    this.importer = new Importer(e);
    this.dns = new DnsSettingsOps(e);
  }

  // Pools (pools.ts).
  /** Creates a pool; the same definition again answers the existing one (`created: false`). */
  createPool = (...a: Args<'createPool', Pools>) => this.pools.createPool(...a);
  getPool = (...a: Args<'getPool', Pools>) => this.pools.getPool(...a);
  listPools = (...a: Args<'listPools', Pools>) => this.pools.listPools(...a);
  /** Size, allocated and free, from the pool's counter shards. */
  usage = (...a: Args<'usage', Pools>) => this.pools.usage(...a);
  /** Settings apply from now on; a topology change is refused while an address in removed space is allocated. */
  updatePool = (...a: Args<'updatePool', Pools>) => this.pools.updatePool(...a);
  deletePool = (...a: Args<'deletePool', Pools>) => this.pools.deletePool(...a);
  /** The cloud's per-zone limits (`{zones: {}}` when none are set). */
  getLimits = (...a: Args<'getLimits', Pools>) => this.pools.getLimits(...a);
  setLimits = (...a: Args<'setLimits', Pools>) => this.pools.setLimits(...a);

  // DNS settings (dns-settings.ts).
  /** The cloud's own DNS settings (name servers, hostmaster, timers), or undefined. */
  getDnsSettings = (...a: Args<'getDnsSettings', DnsSettingsOps>) => this.dns.getDnsSettings(...a);
  /** Replaces the cloud's DNS settings; moves the cloud's change clock (SOA serials). */
  setDnsSettings = (...a: Args<'setDnsSettings', DnsSettingsOps>) => this.dns.setDnsSettings(...a);

  // Allocations (group-commit.ts, allocations.ts, release.ts, import.ts).
  /** A free address or block (or the requested one); the same (pool, holder, name) again answers the same allocation. */
  allocate = (...a: Args<'allocate', GroupCommit>) => this.groups.allocate(...a);
  /** The allocation holding an address; with `zone`, another zone's is answered like a free address. */
  lookup = (...a: Args<'lookup', Allocations>) => this.allocations.lookup(...a);
  /** What (pool, holder, name) holds, if anything. */
  held = (...a: Args<'held', Allocations>) => this.allocations.held(...a);
  /** What the holder holds in the cloud, or with `zone` in that zone only. */
  byHolder = (...a: Args<'byHolder', Allocations>) => this.allocations.byHolder(...a);
  updateAllocation = (...a: Args<'updateAllocation', Allocations>) => this.allocations.updateAllocation(...a);
  listAllocations = (...a: Args<'listAllocations', Allocations>) => this.allocations.listAllocations(...a);
  release = (...a: Args<'release', Releases>) => this.releases.release(...a);
  releaseHolder = (...a: Args<'releaseHolder', Releases>) => this.releases.releaseHolder(...a);
  importAllocations = (...a: Args<'importAllocations', Importer>) => this.importer.importAllocations(...a);

  // Reading for the integrations (DNS, DHCP, export): what they need, without the store.
  /** Every allocation of a cloud (optionally one zone or pool), pool by pool in address order, streamed. */
  async *iterateAllocations(cloud: string, filter: { zone?: string; pool?: string } = {}): AsyncIterable<Allocation> {
    for (const p of await this.poolsOf(cloud)) {
      if ((filter.zone !== undefined && p.zone !== filter.zone) || (filter.pool !== undefined && p.name !== filter.pool)) continue;
      for await (const batch of this.allocationsIn(p)) yield* batch;
    }
  }


  /** The pool's allocations chunk by chunk (one batch per chunk), in address order, from the chunk at `from` to the one at `to`. */
  async *allocationsIn(pool: Pool, from?: bigint, to?: bigint): AsyncIterable<Allocation[]> {
    for await (const base of this.store.poolChunks(pool, from, to)) yield await this.store.chunkAllocations(pool, base, 0);
  }


  /** The cloud's pool definitions, without their usage counters (one read). */
  async poolsOf(cloud: string): Promise<Pool[]> {
    return (await this.store.listPools(checkName('cloud', cloud))).pools;
  }


  /** Every cloud that has (or had) pools. A full scan: for the scheduled export, not request paths. */
  listClouds(): Promise<string[]> {
    return this.store.listClouds();
  }


  /** A clock that moves forward with every change in the cloud (epoch seconds): DNS SOA serials. */
  async changeClock(cloud: string): Promise<number> {
    const { pools } = await this.store.listPools(checkName('cloud', cloud));
    return Math.floor((await this.store.lastChange(cloud, pools)) / 1000);
  }

}
