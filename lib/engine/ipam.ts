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
import { nicNetwork, type AllocationView, type Network } from '../core/network.js';
import { checkName } from '../core/validate.js';
import { Allocations } from './allocations.js';
import { EngineCache } from './cache.js';
import type { Engine } from './context.js';
import { DnsSettingsOps } from './dns-settings.js';
import { GroupCommit } from './group-commit.js';
import { Importer } from './import.js';
import { Networks } from './networks.js';
import { Pools } from './pools.js';
import { Releases } from './release.js';
import type { Store } from './store.js';
import { ZoneAllocations } from './zone-allocations.js';

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
  private readonly networks: Networks;
  private readonly allocations: Allocations;
  private readonly groups: GroupCommit;
  private readonly releases: Releases;
  private readonly importer: Importer;
  private readonly dns: DnsSettingsOps;
  private readonly zones: ZoneAllocations;

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
      // A pool in a network: the network's domain (a pool in a network has none of its own); else the pool's.
      domainOf: async (pool) => (pool.network === undefined ? pool.dns?.domain : (await this.networks.networkFor(pool))?.dns?.domain),
    };
    this.pools = new Pools(e);
    this.networks = new Networks(e);
    this.allocations = new Allocations(e);
    this.groups = new GroupCommit(e, this.allocations);
    this.releases = new Releases(e, this.allocations);
    this.importer = new Importer(e);
    this.dns = new DnsSettingsOps(e);
    this.zones = new ZoneAllocations(e, this.allocations, this.groups);
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

  // Networks (networks.ts).
  /** Creates a network of a zone; the same definition again answers the existing one (`created: false`). */
  createNetwork = (...a: Args<'createNetwork', Networks>) => this.networks.createNetwork(...a);
  getNetwork = (...a: Args<'getNetwork', Networks>) => this.networks.getNetwork(...a);
  listNetworks = (...a: Args<'listNetworks', Networks>) => this.networks.listNetworks(...a);
  /** Fields given replace, null removes; cidr and gateway only while no pool uses the network. */
  updateNetwork = (...a: Args<'updateNetwork', Networks>) => this.networks.updateNetwork(...a);
  /** Refused (NetworkInUse) while a pool names the network. */
  deleteNetwork = (...a: Args<'deleteNetwork', Networks>) => this.networks.deleteNetwork(...a);

  // Allocations (group-commit.ts, allocations.ts, release.ts, import.ts). Every answer that returns an
  // allocation returns it as an AllocationView: with its pool's network (networks.ts, from the cache).
  /** A free address or block (or the requested one); the same (pool, holder, name) again answers the same allocation. */
  allocate = async (...a: Args<'allocate', GroupCommit>): Promise<{ allocation: AllocationView; created: boolean }> => {
    const { allocation, created, pool } = await this.groups.allocate(...a);
    return { created, allocation: await this.networks.view(allocation, pool) };
  };
  /**
   * An address (or block) from a pool of the zone with room (zone-allocations.ts): optionally of a family,
   * from named pools in order or pools with given tags; the same (zone, holder, name) again answers the same allocation.
   */
  allocateInZone = async (...a: Args<'allocate', ZoneAllocations>): Promise<{ allocation: AllocationView; created: boolean }> => {
    const { allocation, created, pool } = await this.zones.allocate(...a);
    return { created, allocation: await this.networks.view(allocation, pool) };
  };
  /** What the zone route's (zone, holder, name) holds, if anything. */
  heldInZone = async (...a: Args<'held', ZoneAllocations>): Promise<AllocationView | undefined> => {
    const h = await this.zones.held(...a);
    return h && this.networks.view(h);
  };
  /** The allocation holding an address; with `zone`, another zone's is answered like a free address. */
  lookup = async (...a: Args<'lookup', Allocations>): Promise<AllocationView> => this.networks.view(await this.allocations.lookup(...a));
  /** What (pool, holder, name) holds, if anything. */
  held = async (...a: Args<'held', Allocations>): Promise<AllocationView | undefined> => {
    const h = await this.allocations.held(...a);
    return h && this.networks.view(h);
  };
  /** What the holder holds in the cloud, or with `zone` in that zone only. */
  byHolder = async (...a: Args<'byHolder', Allocations>): Promise<AllocationView[]> => this.networks.views(await this.allocations.byHolder(...a));
  updateAllocation = async (...a: Args<'updateAllocation', Allocations>): Promise<AllocationView> => this.networks.view(await this.allocations.updateAllocation(...a));
  listAllocations = async (...a: Args<'listAllocations', Allocations>) => {
    const page = await this.allocations.listAllocations(...a);
    return { ...page, items: await this.networks.views(page.items) };
  };
  release = async (...a: Args<'release', Releases>): Promise<AllocationView> => this.networks.view(await this.releases.release(...a));
  releaseHolder = async (...a: Args<'releaseHolder', Releases>): Promise<AllocationView[]> => this.networks.views(await this.releases.releaseHolder(...a));
  importAllocations = (...a: Args<'importAllocations', Importer>) => this.importer.importAllocations(...a);

  // Reading for the integrations (DNS, DHCP, export): what they need, without the store.
  /** Every allocation of a cloud (optionally one zone or pool), pool by pool in address order, streamed, each with its pool's network. */
  async *iterateAllocations(cloud: string, filter: { zone?: string; pool?: string } = {}): AsyncIterable<AllocationView> {
    const { pools, networks } = await this.store.listPools(checkName('cloud', cloud));
    for (const p of pools) {
      if ((filter.zone !== undefined && p.zone !== filter.zone) || (filter.pool !== undefined && p.name !== filter.pool)) continue;
      const n = p.network === undefined ? undefined : networks.find((x) => x.zone === p.zone && x.name === p.network);
      const network = n && nicNetwork(n);
      for await (const batch of this.allocationsIn(p)) yield* network ? batch.map((a) => ({ ...a, network })) : batch;
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


  /** The cloud's networks (one read, consistent). */
  async networksOf(cloud: string): Promise<Network[]> {
    return (await this.store.listPools(checkName('cloud', cloud))).networks;
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
