/**
 * Pool lifecycle: create (idempotent), change settings or topology, delete; the cloud's zone limits;
 * usage from the counter shards. Topology changes are fenced on the cloud version and the shards.
 */
import { chunkBaseOf, slotAddresses } from '../core/chunk.js';
import { randomBytes } from 'node:crypto';
import { invalid, IpamError } from '../core/errors.js';
import { formatAddress, subtract, type Family, type ParsedRange, type Segment } from '../core/ip.js';
import { spaceOf, type CallContext, type Pool, type PoolPatch, type PoolSpec, type PoolUsage, type PoolView } from '../core/model.js';
import { checkDomainClaim, checkOutsideForeignNetworks, checkRangesInNetwork, domainOwners, reservedAddresses, type Network } from '../core/network.js';
import { slotGeometry, type Geometry } from '../core/planner.js';
import { RACED, retrying } from './retry.js';
import { checkNoOverlap, checkPrefix, checkPrefixPool, checkQuarantine, checkRangeLimits, checkTopology, checkZoneLimit, editList, sameSpec } from './checks.js';
import type { CloudLimits } from './store.js';
import { checkDns, checkMetadata, checkName, checkTags } from '../core/validate.js';
import { usageFrom, usageOf, type Engine } from './context.js';
import { slotText } from './records.js';


export class Pools {
  constructor(private readonly e: Engine) {}

  async createPool(cloud: string, zone: string, name: string, spec: PoolSpec, ctx: CallContext): Promise<{ pool: PoolView; created: boolean }> {
    checkName('cloud', cloud);
    checkName('zone', zone);
    checkName('pool', name);
    const { family, ranges, exclude } = checkTopology(spec.ranges, spec.exclude ?? []);
    const network = spec.network === undefined ? undefined : checkName('network', spec.network);
    const slot = checkPrefixPool(family, spec.prefixLength, spec.prefixPool);
    checkRangeLimits(family, ranges, exclude, slot);
    const prefixLength = slot ?? checkPrefix(family, spec.prefixLength, 'prefixLength');
    if (slot !== undefined && network !== undefined) throw prefixPoolInNetwork(network);
    const quarantineSeconds = checkQuarantine(spec.quarantineSeconds);
    const dns = checkDns(spec.dns);
    if (network !== undefined && dns) throw inNetworkDomain(network);
    const at = new Date(this.e.now()).toISOString();
    const pool: Pool = {
      cloud,
      zone,
      name,
      uid: randomBytes(8).toString('hex'),
      family,
      ranges: ranges.map((r) => r.text),
      exclude: exclude.map((r) => r.text),
      ...(prefixLength !== undefined ? { prefixLength } : {}),
      ...(slot !== undefined ? { prefixPool: true as const } : {}),
      ...(quarantineSeconds !== undefined ? { quarantineSeconds } : {}),
      ...(dns ? { dns } : {}),
      ...(network !== undefined ? { network } : {}),
      tags: checkTags(spec.tags),
      metadata: checkMetadata(spec.metadata),
      size: '0',
      epoch: 1,
      shards: this.e.shards,
      createdAt: at,
      createdBy: ctx.principal,
      updatedAt: at,
      updatedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    };
    return retrying('creating the pool', this.e.maxAttempts, async () => {
      const { cloudVersion, pools, networks, limits } = await this.e.store.listPools(cloud);
      const existing = pools.find((p) => p.zone === zone && p.name === name);
      if (existing) {
        if (sameSpec(existing, pool)) return { pool: await this.view(existing), created: false };
        throw new IpamError('PoolExists', `pool ${cloud}/${zone}/${name} already exists with a different definition`, { pool: name });
      }
      const placed = place(pool, network, family, ranges, exclude, networks);
      checkNoOverlap(pools, ranges, undefined, zone);
      checkOutsideForeignNetworks(cloud, zone, ranges, networks);
      checkZoneLimit(limits, pools, cloud, zone, ranges, undefined);
      if (dns) checkDomainClaim({ zone, kind: 'pool', name, family, domain: dns.domain }, domainOwners(pools, networks));
      const r = await this.e.store.createPool(placed.pool, cloudVersion);
      if (r === 'ok') {
        this.e.cache.remember(placed.pool);
        this.e.cache.forgetCloud(cloud);
        return { pool: { ...placed.pool, ...usageFrom(placed.pool, 0n) }, created: true };
      }
      return RACED;
    });
  }

  /** The cloud's per-zone limits (`{zones: {}}` when none are set). */
  async getLimits(cloud: string): Promise<CloudLimits> {
    checkName('cloud', cloud);
    return (await this.e.store.listPools(cloud)).limits ?? { zones: {} };
  }

  /**
   * Replaces the cloud's per-zone limits. A limit below what a zone already claims is accepted (it stops
   * further growth; nothing is taken away); an empty `zones` turns limits off.
   */
  async setLimits(cloud: string, limits: CloudLimits, ctx: CallContext): Promise<CloudLimits> {
    checkName('cloud', cloud);
    const zones: CloudLimits['zones'] = {};
    for (const [zone, l] of Object.entries(limits.zones)) {
      checkName('zone', zone);
      if (!/^(0|[1-9]\d{0,38})$/.test(l.maxAddresses)) throw invalid(`zones.${zone}.maxAddresses must be a whole number of addresses`);
      zones[zone] = { maxAddresses: l.maxAddresses };
    }
    return retrying('setting the limits', this.e.maxAttempts, async () => {
      const { cloudVersion } = await this.e.store.listPools(cloud);
      return (await this.e.store.putLimits(cloud, { zones }, cloudVersion, ctx)) === 'ok' ? { zones } : RACED;
    });
  }

  async getPool(cloud: string, zone: string, name: string): Promise<PoolView> {
    return this.view(await this.e.cache.requirePool(cloud, zone, name));
  }

  async listPools(cloud: string, zone?: string): Promise<PoolView[]> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const { pools } = await this.e.store.listPools(cloud);
    return Promise.all(pools.filter((p) => zone === undefined || p.zone === zone).map((p) => this.view(p)));
  }

  usage(pool: Pool): Promise<PoolUsage> {
    return usageOf(this.e.store, pool);
  }

  async updatePool(cloud: string, zone: string, name: string, patch: PoolPatch, ctx: CallContext): Promise<PoolView> {
    const edits = patch.addRanges !== undefined || patch.removeRanges !== undefined || patch.addExclude !== undefined || patch.removeExclude !== undefined;
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    // Settings that apply from now on (null removes one): other engines see them once their pool cache expires.
    const quarantineSeconds = patch.quarantineSeconds === undefined ? undefined : patch.quarantineSeconds === null ? null : (checkQuarantine(patch.quarantineSeconds) ?? null);
    const dns = patch.dns === undefined ? undefined : patch.dns === null ? null : checkDns(patch.dns)!;
    const network = patch.network === undefined || patch.network === null ? patch.network : checkName('network', patch.network);
    return retrying('updating the pool', this.e.maxAttempts, async () => {
      const prev = await this.e.cache.requirePool(cloud, zone, name, true);
      const at = new Date(this.e.now()).toISOString();
      const next: Pool = { ...prev, ...(tags ? { tags } : {}), ...(metadata ? { metadata } : {}), updatedAt: at, updatedBy: ctx.principal };
      if (prev.prefixPool && patch.prefixLength !== undefined && patch.prefixLength !== prev.prefixLength) {
        throw invalid(`pool ${name} is a prefix pool of /${prev.prefixLength} blocks: its block size cannot change (create another prefix pool)`);
      }
      if (prev.prefixPool && network) throw prefixPoolInNetwork(network);
      // A prefix pool's block size is fixed (refused above when changed).
      const prefixLength = prev.prefixPool ? undefined : patch.prefixLength === undefined || patch.prefixLength === null ? patch.prefixLength : checkPrefix(prev.family, patch.prefixLength, 'prefixLength');
      for (const [k, v] of [['prefixLength', prefixLength], ['quarantineSeconds', quarantineSeconds], ['dns', dns]] as const) {
        if (v === null) delete next[k];
        else if (v !== undefined) Object.assign(next, { [k]: v });
      }
      if (ctx.requestId) next.requestId = ctx.requestId;
      else delete next.requestId;
      // Moving into, out of or between networks is a topology change: the reserved addresses join or leave the geometry.
      const inNetwork = network === undefined ? prev.network : (network ?? undefined);
      if (inNetwork !== undefined && next.dns) throw inNetworkDomain(inNetwork, prev.dns !== undefined && dns === undefined);
      const topology = edits || inNetwork !== prev.network;
      const claim = next.dns !== undefined && next.dns.domain !== prev.dns?.domain;
      if (!topology && !claim) {
        if ((await this.e.store.updatePoolAttributes(prev, next)) === 'ok') return this.changed(next);
        return RACED;
      }
      // A domain claim and a topology change are decided on one read of the cloud, fenced on its version.
      const { cloudVersion, pools, networks, limits } = await this.e.store.listPools(cloud);
      if (claim) checkDomainClaim({ zone, kind: 'pool', name, family: prev.family, domain: next.dns!.domain }, domainOwners(pools, networks));
      if (!topology) {
        if ((await this.e.store.updatePoolAttributes(prev, next, cloudVersion)) === 'ok') return this.changed(next);
        return RACED;
      }
      const ranges = editList(prev.ranges, patch.addRanges, patch.removeRanges, 'range');
      const exclude = editList(prev.exclude, patch.addExclude, patch.removeExclude, 'exclude');
      if (ranges.length === 0) throw invalid('a pool needs at least one range; delete the pool instead');
      const t = checkTopology(ranges, exclude);
      if (t.family !== prev.family) throw invalid(`the pool holds IPv${prev.family} addresses; it cannot take IPv${t.family} ranges`);
      checkRangeLimits(t.family, t.ranges, t.exclude, spaceOf(prev).slot);
      const placed = place(next, inNetwork, t.family, t.ranges, t.exclude, networks);
      checkNoOverlap(pools, t.ranges, prev.uid, zone);
      checkOutsideForeignNetworks(cloud, zone, t.ranges, networks);
      checkZoneLimit(limits, pools, cloud, zone, t.ranges, prev.uid);
      const shards = await this.e.store.readShards(prev);
      const removed = subtract(this.e.cache.geometry(prev).segments, placed.geo.segments);
      await this.assertUnused(prev, removed, placed.pool);
      placed.pool.ranges = t.ranges.map((r) => r.text);
      placed.pool.exclude = t.exclude.map((r) => r.text);
      placed.pool.epoch = prev.epoch + 1;
      if ((await this.e.store.replacePoolTopology(prev, placed.pool, cloudVersion, shards)) === 'ok') return this.changed(placed.pool);
      return RACED;
    });
  }

  private changed(pool: Pool): Promise<PoolView> {
    this.e.cache.remember(pool);
    this.e.cache.forgetCloud(pool.cloud);
    return this.view(pool);
  }

  async deletePool(cloud: string, zone: string, name: string, ctx: CallContext): Promise<void> {
    return retrying('deleting the pool', this.e.maxAttempts, async () => {
      const pool = await this.e.cache.requirePool(cloud, zone, name, true);
      const shards = await this.e.store.readShards(pool);
      const allocated = shards.reduce((n, s) => n + s.allocated, 0n);
      if (allocated > 0n) throw new IpamError('PoolNotEmpty', `pool ${cloud}/${zone}/${name} still holds ${allocated} allocated address(es); release them first`, { allocated: allocated.toString() });
      const { cloudVersion } = await this.e.store.listPools(cloud);
      if ((await this.e.store.deletePool(pool, cloudVersion, shards, ctx)) === 'ok') {
        this.e.cache.forgetPool(cloud, zone, name);
        this.e.cache.forgetCloud(cloud);
        return;
      }
      return RACED;
    });
  }

  private async view(pool: Pool): Promise<PoolView> {
    return { ...pool, ...(await this.usage(pool)) };
  }

  /** No address of `removed` may be allocated (quarantined ones may): 409 RangeInUse naming the first. */
  private async assertUnused(pool: Pool, removed: Segment[], next: Pool) {
    if (removed.length === 0) return;
    const reserved = new Set(next.reserved ?? []);
    for (const seg of removed) {
      for await (const base of this.e.store.poolChunks(pool, chunkBaseOf(seg.start), chunkBaseOf(seg.end))) {
        const state = await this.e.store.getChunk(pool, base);
        if (!state) continue;
        for (const o of state.used) {
          const v = base + BigInt(o);
          if (v < seg.start || v > seg.end) continue;
          if (state.quarantine.has(o)) continue;
          const address = slotText(pool, v);
          if (reserved.has(address)) throw new IpamError('RangeInUse', `${address} is allocated, and network ${next.network} reserves it (its network address, broadcast or gateway); release it first`, { address });
          throw new IpamError('RangeInUse', `${address} is allocated inside the space being removed; release it first`, { address });
        }
      }
    }
  }
}

/** A prefix pool hands out routed blocks; a network is an on-link subnet. */
function prefixPoolInNetwork(network: string): IpamError {
  return invalid(`a prefix pool delegates blocks and is not an on-link subnet: it cannot be in network ${network}`);
}

/** A pool in a network has no domain of its own: its hosts are in the network's. */
function inNetworkDomain(network: string, keeps = false): IpamError {
  return invalid(`a pool in network ${network} takes the network's DNS domain and has none of its own; ${keeps ? 'remove the pool\'s dns.domain in the same PATCH ("dns": null)' : 'leave dns out (set dns.domain on the network)'}`);
}

/**
 * The pool with its network settled: outside networks its geometry is ranges minus exclude; in network
 * `network` of its zone (400 when the zone has none of that name, whoever else has one) the ranges lie in
 * the network's CIDR and its reserved addresses (network, broadcast, gateway) leave the geometry and size.
 */
function place(pool: Pool, network: string | undefined, family: Family, ranges: ParsedRange[], exclude: ParsedRange[], networks: readonly Network[]): { pool: Pool; geo: Geometry } {
  const next: Pool = { ...pool };
  delete next.network;
  delete next.reserved;
  let reserved: bigint[] = [];
  if (network !== undefined) {
    const n = networks.find((x) => x.zone === pool.zone && x.name === network);
    if (!n) throw invalid(`zone ${pool.zone} of cloud ${pool.cloud} has no network ${network}`, { network });
    checkRangesInNetwork(family, ranges, n);
    reserved = reservedAddresses(n);
    next.network = network;
    next.reserved = reserved.map((v) => formatAddress(family, v));
  }
  const geo = slotGeometry(spaceOf(next), ranges, exclude, reserved);
  if (geo.size === 0n) throw invalid(`the pool would hold no addresses: every address of its ranges is excluded${network !== undefined ? ` or reserved by network ${network}` : ''}`);
  next.size = (geo.size * slotAddresses(spaceOf(next))).toString();
  return { pool: next, geo };
}

