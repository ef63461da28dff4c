/**
 * The allocation engine: the IPAM's domain operations over a Store.
 *
 * Allocation picks a random chunk (256 aligned addresses) of the pool and a random free
 * offset in it, then commits one transaction whose conditions make a double hand-out
 * impossible. A lost condition means someone else was faster: the engine learns the
 * chunk's real state from the failure and tries again elsewhere.
 */
import { CHUNK_SIZE, chunkBaseOf } from '../core/chunk.js';
import { randomBytes } from 'node:crypto';
import { invalid, IpamError } from '../core/errors.js';
import { stableJson } from '../core/json.js';
import {
  addressAt,
  BITS,
  blockSize,
  containsSpan,
  cumulativeOffsets,
  findOverlap,
  formatAddress,
  intersect,
  normalize,
  overlaps,
  parseAddress,
  parseRange,
  parseRanges,
  randomBelow,
  segmentOf,
  subtract,
  totalSize,
  type Family,
  type ParsedRange,
  type Segment,
} from '../core/ip.js';
import { holderText, type Allocation, type AllocateRequest, type AllocationPatch, type CallContext, type Holder, type Json, type Page, type Pool, type PoolPatch, type PoolSpec, type PoolUsage, type PoolView } from '../core/model.js';
import { AGAIN, contention, RACED, retrying } from './retry.js';
import type { ChunkChange, ChunkState, CloudLimits, Store } from './store.js';
import { checkAllocationName, checkHolderId, checkHostname, checkMetadata, checkName, checkTags, DOMAIN_RE, LIMITS, normalizeMac } from '../core/validate.js';

const CHUNK = CHUNK_SIZE;
const chunkBase = chunkBaseOf;

/** Largest range a pool may hold, per family (a whole IPv6 /0 is not an address pool). */
const MAX_RANGE_PREFIX: Record<Family, number> = { 4: 8, 6: 32 };

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

/** A single-address allocation, validated, waiting for its group's transaction. */
interface Waiting {
  req: AllocateRequest;
  fields: RecordFields;
  ctx: CallContext;
  resolve: (r: { allocation: Allocation; created: boolean }) => void;
  reject: (e: unknown) => void;
}

/** What an allocation record carries besides where it is. */
interface RecordFields {
  holder: Holder;
  name: string;
  mac?: string;
  hostname?: string;
  tags: Record<string, string>;
  metadata: Record<string, Json>;
}

const GROUP_MAX = 48; // 2 items each + chunk + shard: 98 of a transaction's 100

interface Geometry {
  family: Family;
  segments: Segment[];
  offsets: bigint[];
  size: bigint;
}

interface CachedChunk {
  state: ChunkState;
  at: number;
}


export class Ipam {
  private readonly shards: number;
  private readonly maxAttempts: number;
  private readonly poolCacheMs: number;
  private readonly now: () => number;
  private readonly poolCache = new Map<string, { pool: Pool; at: number }>();
  private readonly geometryCache = new Map<string, Geometry>();
  private readonly chunkCache = new Map<string, CachedChunk>();
  /** Quarantines learned from tombstones, not from the pool's own chunk items: chunk key -> offset -> until. */
  private readonly foreignQuarantine = new Map<string, Map<number, number>>();
  private readonly groupCommit: number;
  private readonly groups = new Map<string, { queue: Waiting[]; inflight: number }>();

  constructor(
    private readonly store: Store,
    opts: EngineOptions = {},
  ) {
    this.shards = opts.shards ?? 16;
    this.maxAttempts = opts.maxAttempts ?? 40;
    this.poolCacheMs = opts.poolCacheMs ?? 5000;
    this.groupCommit = opts.groupCommit ?? 4;
    this.now = opts.now ?? Date.now;
  }

  // ======================= pools =======================

  async createPool(cloud: string, zone: string, name: string, spec: PoolSpec, ctx: CallContext): Promise<{ pool: PoolView; created: boolean }> {
    checkName('cloud', cloud);
    checkName('zone', zone);
    checkName('pool', name);
    const { family, ranges, exclude } = checkTopology(spec.ranges, spec.exclude ?? []);
    const geo = geometryOf(family, ranges, exclude);
    if (geo.size === 0n) throw invalid('the pool would hold no addresses: every address of its ranges is excluded');
    const prefixLength = checkPrefix(family, spec.prefixLength, 'prefixLength');
    const quarantineSeconds = checkQuarantine(spec.quarantineSeconds);
    const dns = checkDns(spec.dns);
    const at = new Date(this.now()).toISOString();
    const pool: Pool = {
      cloud,
      zone,
      name,
      uid: randomBytes(8).toString('hex'),
      family,
      ranges: ranges.map((r) => r.text),
      exclude: exclude.map((r) => r.text),
      ...(prefixLength !== undefined ? { prefixLength } : {}),
      ...(quarantineSeconds !== undefined ? { quarantineSeconds } : {}),
      ...(dns ? { dns } : {}),
      tags: checkTags(spec.tags),
      metadata: checkMetadata(spec.metadata),
      size: geo.size.toString(),
      epoch: 1,
      shards: this.shards,
      createdAt: at,
      createdBy: ctx.principal,
      updatedAt: at,
      updatedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    };
    return retrying('creating the pool', this.maxAttempts, async () => {
      const { cloudVersion, pools, limits } = await this.store.listPools(cloud);
      const existing = pools.find((p) => p.zone === zone && p.name === name);
      if (existing) {
        if (sameSpec(existing, pool)) return { pool: await this.view(existing), created: false };
        throw new IpamError('PoolExists', `pool ${cloud}/${zone}/${name} already exists with a different definition`, { pool: name });
      }
      checkNoOverlap(pools, ranges, undefined, zone);
      checkZoneLimit(limits, pools, cloud, zone, ranges, undefined);
      const r = await this.store.createPool(pool, cloudVersion);
      if (r === 'ok') {
        this.remember(pool);
        return { pool: { ...pool, size: pool.size, allocated: '0', free: pool.size }, created: true };
      }
      return RACED;
    });
  }

  /** The cloud's per-zone limits (`{zones: {}}` when none are set). */
  async getLimits(cloud: string): Promise<CloudLimits> {
    checkName('cloud', cloud);
    return (await this.store.listPools(cloud)).limits ?? { zones: {} };
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
    return retrying('setting the limits', this.maxAttempts, async () => {
      const { cloudVersion } = await this.store.listPools(cloud);
      return (await this.store.putLimits(cloud, { zones }, cloudVersion, ctx)) === 'ok' ? { zones } : RACED;
    });
  }

  async getPool(cloud: string, zone: string, name: string): Promise<PoolView> {
    return this.view(await this.requirePool(cloud, zone, name));
  }

  async listPools(cloud: string, zone?: string): Promise<PoolView[]> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const { pools } = await this.store.listPools(cloud);
    return Promise.all(pools.filter((p) => zone === undefined || p.zone === zone).map((p) => this.view(p)));
  }

  async usage(pool: Pool): Promise<PoolUsage> {
    const shards = await this.store.readShards(pool);
    const allocated = shards.reduce((n, s) => n + s.allocated, 0n);
    return { size: pool.size, allocated: allocated.toString(), free: (BigInt(pool.size) - allocated).toString() };
  }

  async updatePool(cloud: string, zone: string, name: string, patch: PoolPatch, ctx: CallContext): Promise<PoolView> {
    const topology = patch.addRanges !== undefined || patch.removeRanges !== undefined || patch.addExclude !== undefined || patch.removeExclude !== undefined;
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    // Settings that apply from now on (null removes one): other engines see them once their pool cache expires.
    const quarantineSeconds = patch.quarantineSeconds === undefined ? undefined : patch.quarantineSeconds === null ? null : (checkQuarantine(patch.quarantineSeconds) ?? null);
    const dns = patch.dns === undefined ? undefined : patch.dns === null ? null : checkDns(patch.dns)!;
    return retrying('updating the pool', this.maxAttempts, async () => {
      const prev = await this.requirePool(cloud, zone, name, true);
      const at = new Date(this.now()).toISOString();
      const next: Pool = { ...prev, ...(tags ? { tags } : {}), ...(metadata ? { metadata } : {}), updatedAt: at, updatedBy: ctx.principal };
      const prefixLength = patch.prefixLength === undefined || patch.prefixLength === null ? patch.prefixLength : checkPrefix(prev.family, patch.prefixLength, 'prefixLength');
      for (const [k, v] of [['prefixLength', prefixLength], ['quarantineSeconds', quarantineSeconds], ['dns', dns]] as const) {
        if (v === null) delete next[k];
        else if (v !== undefined) Object.assign(next, { [k]: v });
      }
      if (ctx.requestId) next.requestId = ctx.requestId;
      else delete next.requestId;
      if (!topology) {
        if ((await this.store.updatePoolAttributes(prev, next)) === 'ok') {
          this.remember(next);
          return this.view(next);
        }
        return RACED;
      }
      const ranges = editList(prev.ranges, patch.addRanges, patch.removeRanges, 'range');
      const exclude = editList(prev.exclude, patch.addExclude, patch.removeExclude, 'exclude');
      if (ranges.length === 0) throw invalid('a pool needs at least one range; delete the pool instead');
      const t = checkTopology(ranges, exclude);
      if (t.family !== prev.family) throw invalid(`the pool holds IPv${prev.family} addresses; it cannot take IPv${t.family} ranges`);
      const geo = geometryOf(t.family, t.ranges, t.exclude);
      if (geo.size === 0n) throw invalid('the pool would hold no addresses');
      const { cloudVersion, pools, limits } = await this.store.listPools(cloud);
      checkNoOverlap(pools, t.ranges, prev.uid, zone);
      checkZoneLimit(limits, pools, cloud, zone, t.ranges, prev.uid);
      const shards = await this.store.readShards(prev);
      const removed = subtract(this.geometry(prev).segments, geo.segments);
      await this.assertUnused(prev, removed);
      next.ranges = t.ranges.map((r) => r.text);
      next.exclude = t.exclude.map((r) => r.text);
      next.size = geo.size.toString();
      next.epoch = prev.epoch + 1;
      if ((await this.store.replacePoolTopology(prev, next, cloudVersion, shards)) === 'ok') {
        this.remember(next);
        return this.view(next);
      }
      return RACED;
    });
  }

  async deletePool(cloud: string, zone: string, name: string, ctx: CallContext): Promise<void> {
    return retrying('deleting the pool', this.maxAttempts, async () => {
      const pool = await this.requirePool(cloud, zone, name, true);
      const shards = await this.store.readShards(pool);
      const allocated = shards.reduce((n, s) => n + s.allocated, 0n);
      if (allocated > 0n) throw new IpamError('PoolNotEmpty', `pool ${cloud}/${zone}/${name} still holds ${allocated} allocated address(es); release them first`, { allocated: allocated.toString() });
      const { cloudVersion } = await this.store.listPools(cloud);
      if ((await this.store.deletePool(pool, cloudVersion, shards, ctx)) === 'ok') {
        this.poolCache.delete(poolKey(cloud, zone, name));
        return;
      }
      return RACED;
    });
  }

  // ======================= allocations =======================

  async allocate(req: AllocateRequest, ctx: CallContext): Promise<{ allocation: Allocation; created: boolean }> {
    checkName('cloud', req.cloud);
    checkName('zone', req.zone);
    checkName('pool', req.pool);
    const holder = checkHolder(req.holder);
    const name = req.name === undefined ? 'default' : checkAllocationName(req.name);
    const mac = req.mac === undefined ? undefined : normalizeMac(req.mac);
    const hostname = req.hostname === undefined ? undefined : checkHostname(req.hostname);
    const fields: RecordFields = { holder, name, ...(mac ? { mac } : {}), ...(hostname ? { hostname } : {}), tags: checkTags(req.tags), metadata: checkMetadata(req.metadata) };
    const wanted = req.address === undefined ? undefined : parseRequestedAddress(req.address);
    if (this.groupCommit > 0 && !wanted && (req.prefixLength === undefined || req.prefixLength === 32 || req.prefixLength === 128)) {
      const key = poolKey(req.cloud, req.zone, req.pool);
      const g = this.groups.get(key);
      if (g && g.inflight >= this.groupCommit) {
        // This engine is busy with the pool: wait, and go with the next group.
        return new Promise((resolve, reject) => {
          g.queue.push({ req, fields, ctx, resolve, reject });
        });
      }
      return this.inGroupSlot(key, () => this.allocateOne(req, fields, wanted, ctx));
    }
    return this.allocateOne(req, fields, wanted, ctx);
  }

  /** One allocation in its own transaction (any size, a requested address, retries). */
  private async allocateOne(req: AllocateRequest, fields: RecordFields, wanted: ReturnType<typeof parseRequestedAddress> | undefined, ctx: CallContext): Promise<{ allocation: Allocation; created: boolean }> {
    const { holder, name } = fields;
    let refreshPool = false;
    return retrying('allocating', this.maxAttempts, async () => {
      const pool = await this.requirePool(req.cloud, req.zone, req.pool, refreshPool);
      refreshPool = false;
      if (pool.importing) throw new IpamError('Contention', `pool ${req.cloud}/${req.zone}/${req.pool} is being imported; retry when the import has finished`);
      const geo = this.geometry(pool);
      const prefix = checkPrefix(pool.family, req.prefixLength ?? wanted?.prefixLength ?? pool.prefixLength, 'prefixLength') ?? BITS[pool.family];
      const size = blockSize(pool.family, prefix);
      let plan: ChunkChange[];
      let start: bigint;
      if (wanted) {
        if (wanted.family !== pool.family) throw invalid(`${req.address} is not an IPv${pool.family} address; pool ${pool.name} holds IPv${pool.family}`);
        if (wanted.value % size !== 0n) throw invalid(`${req.address} is not aligned to a /${prefix} block`);
        if (!containsSpan(geo.segments, wanted.value, wanted.value + size - 1n)) {
          throw invalid(`${formatAddress(pool.family, wanted.value)}${size > 1n ? `/${prefix}` : ''} is not in pool ${pool.name} (${pool.ranges.join(', ')}${pool.exclude.length ? ` minus ${pool.exclude.join(', ')}` : ''})`);
        }
        start = wanted.value;
        plan = await this.planAt(pool, start, size, prefix);
      } else {
        const picked = await this.pick(pool, geo, size, prefix);
        if (!picked) {
          const held = await this.store.getHeld(pool, holder, name);
          if (held) return this.repeat(held, req, fields);
          throw new IpamError('PoolExhausted', `pool ${req.cloud}/${req.zone}/${req.pool} has no free ${size > 1n ? `/${prefix} block` : 'address'}`, { pool: req.pool });
        }
        ({ plan, start } = picked);
      }
      const allocation = allocationRecord(pool, start, prefix, fields, ctx, new Date(this.now()).toISOString());
      const out = await this.store.commitAllocation({ pool, allocation, chunks: plan, shard: Math.floor(Math.random() * pool.shards), addressCount: size, now: this.now() });
      if (out.ok) {
        for (const ch of plan) this.noteTaken(pool, ch);
        return { allocation, created: true };
      }
      switch (out.reason) {
        case 'holder':
          if (out.existing) return this.repeat(out.existing, req, fields);
          return AGAIN;
        case 'epoch':
          refreshPool = true;
          return AGAIN;
        case 'chunk':
          this.noteChunk(pool, out.base, out.state);
          if (wanted && out.state) {
            const blocked = plan.find((ch) => ch.base === out.base)!;
            const nowMs = this.now();
            const busy = blocked.offsets.find((o) => out.state!.used.has(o) && !((out.state!.quarantine.get(o) ?? Infinity) <= nowMs));
            if (busy !== undefined) throw await this.takenError(pool, out.base + BigInt(busy), out.state);
          }
          return AGAIN;
        case 'quarantined': {
          // Released (by this pool or an earlier one over the same space) and still in quarantine.
          const base = chunkBase(out.value);
          const k = chunkKey(pool, base);
          const learned = this.foreignQuarantine.get(k) ?? new Map<number, number>();
          learned.set(Number(out.value - base), out.until);
          this.foreignQuarantine.set(k, learned);
          if (wanted) throw new IpamError('AddressTaken', `${formatAddress(pool.family, out.value)} was released recently and is in quarantine until ${new Date(out.until).toISOString()}`, { address: formatAddress(pool.family, out.value) });
          return AGAIN;
        }
        case 'taken':
        case 'contention':
          for (const ch of plan) this.chunkCache.delete(chunkKey(pool, ch.base));
          return RACED;
      }
    });
  }

  /**
   * Runs `work` in one of the pool's group-commit slots; when it ends, the allocations that waited
   * meanwhile go out as groups, one per free slot.
   */
  private async inGroupSlot<T>(key: string, work: () => Promise<T>): Promise<T> {
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { queue: [], inflight: 0 }));
    g.inflight++;
    try {
      return await work();
    } finally {
      g.inflight--;
      this.drain(key, g);
    }
  }

  private drain(key: string, g: { queue: Waiting[]; inflight: number }) {
    while (g.queue.length > 0 && g.inflight < this.groupCommit) {
      // One claim per (holder, name) in a transaction: a repeated request waits for the next group,
      // where it finds the first one's claim and gets the same address back.
      const group: Waiting[] = [];
      const seen = new Set<string>();
      const later: Waiting[] = [];
      for (const w of g.queue) {
        const k = `${w.fields.holder.kind}#${w.fields.holder.id}#${w.fields.name}`;
        if (group.length < GROUP_MAX && !seen.has(k)) {
          seen.add(k);
          group.push(w);
        } else later.push(w);
      }
      g.queue = later;
      void this.inGroupSlot(key, () => this.commitGroup(group));
    }
    if (g.queue.length === 0 && g.inflight === 0) this.groups.delete(key);
  }

  /**
   * One transaction for a group of waiting single-address allocations from one chunk. If it loses a
   * race (a holder that already holds, an address taken by another engine, a changed pool) nothing
   * was written, and every member is allocated on its own, with the usual retries and errors.
   */
  private async commitGroup(group: Waiting[]): Promise<void> {
    const onTheirOwn = new Set<Waiting>();
    const each = (ws: Waiting[]) =>
      Promise.all(
        ws.map((w) => {
          onTheirOwn.add(w);
          return this.allocateOne(w.req, w.fields, undefined, w.ctx).then(w.resolve, w.reject);
        }),
      );
    try {
      if (group.length === 1) return void (await each(group));
      const { req } = group[0]!;
      const pool = await this.requirePool(req.cloud, req.zone, req.pool);
      const prefix = pool.prefixLength ?? BITS[pool.family];
      const single = group.filter((w) => (w.req.prefixLength ?? prefix) === BITS[pool.family]);
      const others = group.filter((w) => !single.includes(w));
      const geo = this.geometry(pool);
      const picked = pool.importing || single.length < 2 ? undefined : await this.pick(pool, geo, 1n, BITS[pool.family]);
      if (!picked) return void (await each(group));
      const base = picked.plan[0]!.base;
      const state = this.cachedChunk(pool, base);
      const free = this.freeOffsets(geo, base, state, this.now(), pool).filter((o) => !state?.quarantine.has(o));
      shuffle(free);
      const members = single.slice(0, free.length);
      const rest = [...single.slice(free.length), ...others];
      if (members.length < 2) return void (await each(group));
      const at = new Date(this.now()).toISOString();
      const allocations = members.map((w, i) => allocationRecord(pool, base + BigInt(free[i]!), BITS[pool.family], w.fields, w.ctx, at));
      const chunk: ChunkChange = { base, offsets: free.slice(0, members.length) };
      const restDone = each(rest);
      // A group is an optimisation, never a shared fate: if its transaction cannot even be sent (one
      // member's record the store refuses, a store error), every member is tried on its own and gets
      // its own answer, exactly as without group commit.
      const outcome = await this.store.commitBulk({ pool, allocations, chunk, shard: Math.floor(Math.random() * pool.shards), now: this.now() }).catch(() => 'failed' as const);
      if (outcome === 'ok') {
        this.noteTaken(pool, chunk);
        members.forEach((w, i) => w.resolve({ allocation: allocations[i]!, created: true }));
      } else {
        this.chunkCache.delete(chunkKey(pool, base));
        await each(members);
      }
      await restDone;
    } catch (e) {
      // The pool is gone, the store is down: each member of the group's transaction learns it (as a
      // single allocation would); those allocating on their own get their own answers.
      for (const w of group) if (!onTheirOwn.has(w)) w.reject(e);
    }
  }

  /**
   * Bulk loading: allocates single addresses for many (holder, name) pairs, packing up to 48 of
   * them into one transaction per chunk (a transaction holds at most 100 items). Each pack is all
   * or nothing under the same conditions as one allocation; a pack that loses a race (a holder
   * that already holds, a chunk that changed) falls back to allocating its members one by one.
   */
  async bulkAllocate(cloud: string, zone: string, poolName: string, requests: { holder: Holder; name?: string; hostname?: string }[], ctx: CallContext): Promise<Allocation[]> {
    const out: Allocation[] = [];
    let i = 0;
    while (i < requests.length) {
      const pool = await this.requirePool(cloud, zone, poolName);
      const geo = this.geometry(pool);
      const picked = await this.pick(pool, geo, 1n, BITS[pool.family]);
      if (!picked) throw new IpamError('PoolExhausted', `pool ${cloud}/${zone}/${poolName} has no free address`, { pool: poolName });
      const base = picked.plan[0]!.base;
      const state = await this.store.getChunk(pool, base);
      const nowMs = this.now();
      const free = this.freeOffsets(geo, base, state, nowMs, pool).filter((o) => !state?.quarantine.has(o));
      const pack = requests.slice(i, i + Math.min(48, free.length));
      if (pack.length === 0) continue;
      const at = new Date(nowMs).toISOString();
      const allocations = pack.map((r, k) => singleRecord(pool, base + BigInt(free[k]!), checkHolder(r.holder), r.name === undefined ? 'default' : checkAllocationName(r.name), r, ctx, at));
      const chunk: ChunkChange = { base, offsets: free.slice(0, pack.length), expectVersion: state?.version ?? null };
      if ((await this.store.commitBulk({ pool, allocations, chunk, shard: Math.floor(Math.random() * pool.shards), now: nowMs })) === 'ok') {
        out.push(...allocations);
        this.noteTaken(pool, chunk);
      } else {
        this.chunkCache.delete(chunkKey(pool, base));
        for (const r of pack) out.push((await this.allocate({ cloud, zone, pool: poolName, ...r }, ctx)).allocation);
      }
      i += pack.length;
    }
    return out;
  }

  /**
   * Imports allocations into an empty pool, filling it in address order: the migration path from
   * another IPAM, and the way to load millions quickly. The pool is fenced for the duration
   * (allocations are refused with a retryable error), records are written in unconditional transactions of 100 puts,
   * and the counters are set when it ends. Holder claims must be unique within the import.
   */
  async importAllocations(
    cloud: string,
    zone: string,
    poolName: string,
    source: AsyncIterable<{ holder: Holder; name?: string; hostname?: string; mac?: string }> | Iterable<{ holder: Holder; name?: string; hostname?: string; mac?: string }>,
    ctx: CallContext,
    onProgress?: (imported: number) => void,
  ): Promise<{ imported: number }> {
    const at = new Date(this.now()).toISOString();
    const fenced = await retrying('starting the import', this.maxAttempts, async () => {
      const start = await this.requirePool(cloud, zone, poolName, true);
      if (start.importing) throw new IpamError('Contention', `pool ${cloud}/${zone}/${poolName} is already being imported`);
      const shards0 = await this.store.readShards(start);
      if (shards0.some((sh) => sh.allocated !== 0n)) throw new IpamError('PoolNotEmpty', `import needs an empty pool; ${cloud}/${zone}/${poolName} holds allocations`);
      const { cloudVersion } = await this.store.listPools(cloud);
      const next: Pool = { ...start, importing: true, epoch: start.epoch + 1, updatedAt: at, updatedBy: ctx.principal };
      return (await this.store.replacePoolTopology(start, next, cloudVersion, shards0)) === 'ok' ? next : RACED;
    });
    this.remember(fenced);
    const geo = this.geometry(fenced);
    const chunks = chunksOf(geo.segments);
    const seen = new Set<string>();
    const iter = (Symbol.asyncIterator in source ? (source as AsyncIterable<any>)[Symbol.asyncIterator]() : (source as Iterable<any>)[Symbol.iterator]()) as AsyncIterator<any> | Iterator<any>;
    let imported = 0;
    let sourceDone = false;
    let failure: unknown;
    try {
      outer: for (let c = 0n; c < chunks.total; c += 64n) {
        const bases: bigint[] = [];
        for (let j = c; j < c + 64n && j < chunks.total; j++) bases.push(chunks.at(j));
        const existing = await this.store.getChunks(fenced, bases);
        const writes: Promise<void>[] = [];
        let counted = 0;
        for (const base of bases) {
          if (existing.has(base)) continue; // a chunk with history (quarantine) is left to normal allocation
          const free = this.freeOffsets(geo, base, undefined, 0);
          const offsets: number[] = [];
          const allocations: Allocation[] = [];
          for (const o of free) {
            const next = await iter.next();
            if (next.done) break;
            const r = next.value;
            const holder = checkHolder(r.holder);
            const name = r.name === undefined ? 'default' : checkAllocationName(r.name);
            const key = `${holder.kind}#${holder.id}#${name}`;
            if (seen.has(key)) throw invalid(`the import names ${holderText(holder)} ${JSON.stringify(name)} twice`);
            seen.add(key);
            offsets.push(o);
            allocations.push(singleRecord(fenced, base + BigInt(o), holder, name, r, ctx, at));
          }
          if (offsets.length) {
            counted += offsets.length;
            // At most two chunks (each ~6 transactions of 100 puts) in flight: enough to keep DynamoDB busy.
            if (writes.length >= 2) await writes.shift();
            const w = this.store.importChunk(fenced, base, offsets, allocations);
            w.catch(() => undefined); // rejections surface where the write is awaited, not as unhandled
            writes.push(w);
          }
          if (offsets.length < free.length) {
            sourceDone = true;
            break;
          }
        }
        await Promise.all(writes);
        imported += counted;
        onProgress?.(imported);
        if (sourceDone) break outer;
      }
      if (!sourceDone && !(await iter.next()).done) failure = new IpamError('PoolExhausted', `pool ${cloud}/${zone}/${poolName} is full after importing ${imported}; the rest was not imported`, { imported });
    } catch (e) {
      failure = e;
    }
    // End the import whatever happened, with the counters matching what was written.
    const shards = await this.store.readShards(fenced);
    const counts = shards.map((_, k) => BigInt(Math.floor(imported / shards.length) + (k < imported % shards.length ? 1 : 0)));
    const done: Pool = { ...fenced, importing: false, epoch: fenced.epoch + 1, updatedAt: new Date(this.now()).toISOString() };
    delete done.importing;
    if ((await this.store.finishImport(fenced, done, shards, counts)) !== 'ok') throw contention('finishing the import');
    this.remember(done);
    if (failure) throw failure;
    return { imported };
  }

  /**
   * The same (pool, holder, name) asked again: the existing allocation, unless the request specifies
   * a field with another value (AWS's IdempotentParameterMismatch). A field the request leaves out is
   * not compared: a repeat of `allocate --vm x` after the allocation got a MAC (PATCH) still answers it.
   */
  private repeat(existing: Allocation, req: AllocateRequest, fields: RecordFields): { allocation: Allocation; created: boolean } {
    const wanted = req.address === undefined ? undefined : parseRequestedAddress(req.address);
    const differs: string[] = [];
    if (wanted && (formatAddress(wanted.family, wanted.value) !== existing.address || (wanted.prefixLength !== undefined && wanted.prefixLength !== existing.prefixLength))) differs.push('address');
    if (req.prefixLength !== undefined && req.prefixLength !== existing.prefixLength) differs.push('prefixLength');
    if (req.mac !== undefined && fields.mac !== existing.mac) differs.push('mac');
    if (req.hostname !== undefined && fields.hostname !== existing.hostname) differs.push('hostname');
    if (req.tags !== undefined && stableJson(fields.tags) !== stableJson(existing.tags ?? {})) differs.push('tags');
    if (req.metadata !== undefined && stableJson(fields.metadata) !== stableJson(existing.metadata ?? {})) differs.push('metadata');
    if (differs.length > 0) {
      throw new IpamError(
        'IdempotentParameterMismatch',
        `${holderText(fields.holder)} already holds ${existing.cidr} as ${JSON.stringify(existing.name)} in pool ${existing.pool} with another ${differs.join(', ')}; change it with PATCH (ipam update), or release it first, or use another name`,
        { cidr: existing.cidr, fields: differs },
      );
    }
    return { allocation: existing, created: false };
  }

  private async takenError(pool: Pool, value: bigint, state: ChunkState): Promise<IpamError> {
    const address = formatAddress(pool.family, value);
    const q = state.quarantine.get(Number(value % CHUNK));
    if (q !== undefined) return new IpamError('AddressTaken', `${address} was released recently and is in quarantine until ${new Date(q).toISOString()}`, { address });
    const holderOf = await this.lookup(pool.cloud, address).catch(() => undefined);
    return new IpamError('AddressTaken', `${address} is already allocated${holderOf ? ` to ${holderOf.vm !== undefined ? `vm:${holderOf.vm}` : `vip:${holderOf.vip}`} (${holderOf.cidr})` : ''}`, { address });
  }

  /** Plans a specific address or block: the chunks and offsets it covers. */
  private async planAt(pool: Pool, start: bigint, size: bigint, prefix: number): Promise<ChunkChange[]> {
    const nowMs = this.now();
    if (size === 1n) {
      const base = chunkBase(start);
      const o = Number(start - base);
      const cached = this.cachedChunk(pool, base);
      const q = cached?.quarantine.get(o);
      return [{ base, offsets: [o], ...(q !== undefined && q <= nowMs ? { reuse: new Map([[o, q]]) } : {}) }];
    }
    const bases = blockChunks(start, size);
    const states = await this.store.getChunks(pool, bases);
    for (const b of bases) this.noteChunk(pool, b, states.get(b));
    const plan = blockPlan(pool, start, size, prefix, states, nowMs);
    if (!plan) {
      const busy = firstBusy(start, size, states, nowMs)!;
      throw await this.takenError(pool, busy, states.get(chunkBase(busy))!);
    }
    return plan;
  }

  /** A random free address or aligned block, or undefined when the pool has none. */
  private async pick(pool: Pool, geo: Geometry, size: bigint, prefix: number): Promise<{ plan: ChunkChange[]; start: bigint } | undefined> {
    const candidates = alignedCandidates(geo.segments, size);
    if (candidates.total === 0n) return undefined;
    const nowMs = this.now();
    // Random probes: cheap, and spread concurrent allocators over the pool.
    for (let probe = 0; probe < 8; probe++) {
      const start = candidates.at(randomBelow(candidates.total));
      if (size === 1n) {
        const base = chunkBase(start);
        const free = this.freeOffsets(geo, base, this.cachedChunk(pool, base), nowMs, pool);
        if (free.length === 0) continue;
        const o = free[Math.floor(Math.random() * free.length)]!;
        const q = this.cachedChunk(pool, base)?.quarantine.get(o);
        return { start: base + BigInt(o), plan: [{ base, offsets: [o], ...(q !== undefined ? { reuse: new Map([[o, q]]) } : {}) }] };
      }
      const bases = blockChunks(start, size);
      const states = await this.store.getChunks(pool, bases);
      for (const b of bases) this.noteChunk(pool, b, states.get(b));
      const plan = blockPlan(pool, start, size, prefix, states, nowMs);
      if (plan) return { start, plan };
    }
    // The probes hit full space: is anything left at all?
    const usage = await this.usage(pool);
    if (BigInt(usage.free) < size) return undefined;
    return this.scan(pool, geo, size, prefix, nowMs);
  }

  /** Walks the pool's chunks in order from a random point, reading their real state, for the first free slot. */
  private async scan(pool: Pool, geo: Geometry, size: bigint, prefix: number, nowMs: number) {
    const chunkList = chunksOf(geo.segments);
    if (chunkList.total > 1_000_000n) return undefined;
    const first = randomBelow(chunkList.total);
    for (let i = 0n; i < chunkList.total; i += 100n) {
      const bases: bigint[] = [];
      for (let j = i; j < i + 100n && j < chunkList.total; j++) bases.push(chunkList.at((first + j) % chunkList.total));
      const states = await this.store.getChunks(pool, bases);
      for (const base of bases) {
        const state = states.get(base);
        this.noteChunk(pool, base, state);
        if (size === 1n) {
          const free = this.freeOffsets(geo, base, state, nowMs, pool);
          if (free.length === 0) continue;
          const o = free[Math.floor(Math.random() * free.length)]!;
          const q = state?.quarantine.get(o);
          return { start: base + BigInt(o), plan: [{ base, offsets: [o], ...(q !== undefined ? { reuse: new Map([[o, q]]) } : {}) }] };
        }
        for (let s = base; s < base + CHUNK; s += size < CHUNK ? size : CHUNK) {
          if (s % size !== 0n || !containsSpan(geo.segments, s, s + size - 1n)) continue;
          const need = blockChunks(s, size);
          const all = need.every((b) => b === base || states.has(b)) ? states : await this.store.getChunks(pool, need);
          const plan = blockPlan(pool, s, size, prefix, all, nowMs);
          if (plan) return { start: s, plan };
        }
      }
    }
    return undefined;
  }

  private freeOffsets(geo: Geometry, base: bigint, state: ChunkState | undefined, nowMs: number, pool?: Pool): number[] {
    const out: number[] = [];
    const learned = pool && this.foreignQuarantine.get(chunkKey(pool, base));
    for (const seg of intersect(geo.segments, [{ start: base, end: base + CHUNK - 1n }])) {
      for (let v = seg.start; v <= seg.end; v++) {
        const o = Number(v - base);
        if ((learned?.get(o) ?? 0) > nowMs) continue;
        if (!state || !state.used.has(o) || (state.quarantine.get(o) ?? Infinity) <= nowMs) out.push(o);
      }
    }
    return out;
  }

  /**
   * The allocation holding an address. With `zone`, an allocation of another zone is answered exactly
   * like a free address (the zone routes must not tell a zone's caller what another zone holds).
   */
  async lookup(cloud: string, address: string, zone?: string): Promise<Allocation> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const a = parseAddress(address);
    const found = await this.findAllocation(cloud, a.family, a.value, zone);
    if (!found) throw new IpamError('AllocationNotFound', `${formatAddress(a.family, a.value)} is not allocated in cloud ${cloud}`, { address });
    return found;
  }

  private async findAllocation(cloud: string, family: Family, value: bigint, zone?: string): Promise<Allocation | undefined> {
    const inZone = (a: Allocation | undefined) => (a && (zone === undefined || a.zone === zone) ? a : undefined);
    const exact = await this.store.getAllocationAt(cloud, family, value);
    if (exact) return inZone(exact);
    for (const cidr of await this.store.blocksCovering(cloud, family, value)) {
      const r = parseRange(cidr);
      if (r.start <= value && value <= r.end) return inZone(await this.store.getAllocationAt(cloud, family, r.start));
    }
    return undefined;
  }

  /** Releases an address; with `zone`, only one of that zone (another zone's is AllocationNotFound). */
  async release(cloud: string, address: string, guard: Holder | undefined, ctx: CallContext, zone?: string): Promise<Allocation> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const a = parseAddress(address);
    if (guard) checkHolder(guard);
    return retrying('releasing', this.maxAttempts, async () => {
      const found = await this.findAllocation(cloud, a.family, a.value, zone);
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
    for (const a of await this.byHolder(cloud, holder, zone)) {
      try {
        released.push(await this.release(cloud, a.address, holder, ctx, zone));
      } catch (e) {
        if (!(e instanceof IpamError && e.reason === 'AllocationNotFound')) throw e;
      }
    }
    return released;
  }

  private async releaseOne(a: Allocation, ctx: CallContext): Promise<'ok' | 'raced'> {
    const pool = await this.requirePool(a.cloud, a.zone, a.pool);
    const start = parseAddress(a.address).value;
    const size = blockSize(a.family, a.prefixLength);
    const chunks: ChunkChange[] = size === 1n ? [{ base: chunkBase(start), offsets: [Number(start % CHUNK)] }] : blockChanges(start, size, a.cidr);
    const quarantineUntil = size === 1n && pool.quarantineSeconds ? this.now() + pool.quarantineSeconds * 1000 : 0;
    const r = await this.store.commitRelease({
      pool,
      allocation: a,
      chunks,
      shard: Math.floor(Math.random() * pool.shards),
      addressCount: size,
      quarantineUntil,
      releasedAt: new Date(this.now()).toISOString(),
      releasedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    });
    for (const ch of chunks) this.chunkCache.delete(chunkKey(pool, ch.base));
    return r;
  }

  /** What (pool, holder, name) holds, if anything. */
  async held(cloud: string, zone: string, poolName: string, holder: Holder, name: string): Promise<Allocation | undefined> {
    const pool = await this.requirePool(cloud, zone, poolName);
    return this.store.getHeld(pool, checkHolder(holder), checkAllocationName(name));
  }

  /** What the holder holds in the cloud, or with `zone` in that zone only. */
  async byHolder(cloud: string, holder: Holder, zone?: string): Promise<Allocation[]> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const all = await this.store.byHolder(cloud, checkHolder(holder));
    return zone === undefined ? all : all.filter((a) => a.zone === zone);
  }

  async updateAllocation(cloud: string, address: string, patch: AllocationPatch, ctx: CallContext, zone?: string): Promise<Allocation> {
    const mac = patch.mac === undefined || patch.mac === null ? patch.mac : normalizeMac(patch.mac);
    const hostname = patch.hostname === undefined || patch.hostname === null ? patch.hostname : checkHostname(patch.hostname);
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    return retrying('updating the allocation', this.maxAttempts, async () => {
      const prev = await this.lookup(cloud, address, zone);
      const next: Allocation = { ...prev, version: prev.version + 1, updatedAt: new Date(this.now()).toISOString(), updatedBy: ctx.principal };
      if (ctx.requestId) next.requestId = ctx.requestId;
      else delete next.requestId;
      if (mac !== undefined) mac === null ? delete next.mac : (next.mac = mac);
      if (hostname !== undefined) hostname === null ? delete next.hostname : (next.hostname = hostname);
      if (tags) next.tags = tags;
      if (metadata) next.metadata = metadata;
      // Nothing would change: no write, no version, no security event.
      if (stableJson([next.mac, next.hostname, next.tags, next.metadata]) === stableJson([prev.mac, prev.hostname, prev.tags, prev.metadata])) return prev;
      const pool = await this.requirePool(prev.cloud, prev.zone, prev.pool);
      return (await this.store.updateAllocation(pool, prev, next)) === 'ok' ? next : RACED;
    });
  }

  async listAllocations(cloud: string, zone: string, name: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<Allocation>> {
    const pool = await this.requirePool(cloud, zone, name);
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.pageSize) throw invalid(`limit must be 1-${LIMITS.pageSize}`);
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, pool.family);
    const items: Allocation[] = [];
    for await (const base of this.store.poolChunks(pool, after?.base)) {
      const from = after && base === after.base ? after.offset + 1 : 0;
      if (from > 255) continue;
      for (const a of await this.store.chunkAllocations(pool, base, from)) {
        items.push(a);
        if (items.length === limit) return { items, cursor: encodeCursor(parseAddress(a.address).value) };
      }
    }
    return { items };
  }

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

  // ======================= caches and helpers =======================

  private async requirePool(cloud: string, zone: string, name: string, fresh = false): Promise<Pool> {
    checkName('cloud', cloud);
    checkName('zone', zone);
    checkName('pool', name);
    const key = poolKey(cloud, zone, name);
    const hit = this.poolCache.get(key);
    if (!fresh && hit && this.now() - hit.at < this.poolCacheMs) return hit.pool;
    const pool = await this.store.getPool(cloud, zone, name);
    if (!pool) {
      this.poolCache.delete(key);
      throw new IpamError('PoolNotFound', `pool ${cloud}/${zone}/${name} does not exist`, { pool: name });
    }
    this.remember(pool);
    return pool;
  }

  private remember(pool: Pool) {
    this.poolCache.set(poolKey(pool.cloud, pool.zone, pool.name), { pool, at: this.now() });
  }

  private async view(pool: Pool): Promise<PoolView> {
    return { ...pool, ...(await this.usage(pool)) };
  }

  private geometry(pool: Pool): Geometry {
    const key = `${pool.uid}:${pool.epoch}`;
    let g = this.geometryCache.get(key);
    if (!g) {
      const t = checkTopology(pool.ranges, pool.exclude);
      g = geometryOf(pool.family, t.ranges, t.exclude);
      if (this.geometryCache.size > 1000) this.geometryCache.clear();
      this.geometryCache.set(key, g);
    }
    return g;
  }

  private cachedChunk(pool: Pool, base: bigint): ChunkState | undefined {
    const hit = this.chunkCache.get(chunkKey(pool, base));
    if (!hit) return undefined;
    if (this.now() - hit.at > 10_000) {
      this.chunkCache.delete(chunkKey(pool, base));
      return undefined;
    }
    return hit.state;
  }

  private noteChunk(pool: Pool, base: bigint, state: ChunkState | undefined) {
    if (this.chunkCache.size > 50_000) this.chunkCache.clear();
    this.chunkCache.set(chunkKey(pool, base), { state: state ?? emptyChunk(), at: this.now() });
  }

  private noteTaken(pool: Pool, ch: ChunkChange) {
    const cur = this.cachedChunk(pool, ch.base) ?? emptyChunk();
    for (const o of ch.offsets) {
      cur.used.add(o);
      cur.quarantine.delete(o);
    }
    this.noteChunk(pool, ch.base, cur);
  }

  private async assertUnused(pool: Pool, removed: Segment[]) {
    if (removed.length === 0) return;
    for (const seg of removed) {
      for await (const base of this.store.poolChunks(pool, chunkBase(seg.start), chunkBase(seg.end))) {
        const state = await this.store.getChunk(pool, base);
        if (!state) continue;
        for (const o of state.used) {
          const v = base + BigInt(o);
          if (v < seg.start || v > seg.end) continue;
          if (state.quarantine.has(o)) continue;
          throw new IpamError('RangeInUse', `${formatAddress(pool.family, v)} is allocated inside the space being removed; release it first`, { address: formatAddress(pool.family, v) });
        }
      }
    }
  }
}

// ======================= pure helpers =======================

/** The record of an allocation of the block (or address) at `value`. */
function allocationRecord(pool: Pool, value: bigint, prefix: number, f: RecordFields, ctx: CallContext, at: string): Allocation {
  const address = formatAddress(pool.family, value);
  return {
    cloud: pool.cloud,
    zone: pool.zone,
    pool: pool.name,
    address,
    cidr: `${address}/${prefix}`,
    prefixLength: prefix,
    family: pool.family,
    ...(f.holder.kind === 'vm' ? { vm: f.holder.id } : { vip: f.holder.id }),
    name: f.name,
    ...(f.mac ? { mac: f.mac } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    tags: f.tags,
    metadata: f.metadata,
    allocatedAt: at,
    allocatedBy: ctx.principal,
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    version: 1,
  };
}

/** A single address for bulk loading: hostname and MAC only. */
function singleRecord(pool: Pool, value: bigint, holder: Holder, name: string, r: { hostname?: string; mac?: string }, ctx: CallContext, at: string): Allocation {
  const fields: RecordFields = { holder, name, ...(r.hostname ? { hostname: checkHostname(r.hostname) } : {}), ...(r.mac ? { mac: normalizeMac(r.mac) } : {}), tags: {}, metadata: {} };
  return allocationRecord(pool, value, BITS[pool.family], fields, ctx, at);
}

/** Fisher-Yates, in place: concurrent engines that share a chunk pick different offsets. */
function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

const poolKey = (cloud: string, zone: string, name: string) => `${cloud}/${zone}/${name}`;
const chunkKey = (pool: Pool, base: bigint) => `${pool.uid}:${base}`;
const emptyChunk = (): ChunkState => ({ used: new Set(), quarantine: new Map(), blocks: new Map(), version: undefined });


function checkHolder(h: Holder | undefined): Holder {
  if (!h || (h.kind !== 'vm' && h.kind !== 'vip')) throw invalid('exactly one of vm or vip is required');
  checkHolderId(h.kind, h.id);
  return h;
}

function checkPrefix(family: Family, p: unknown, what: string): number | undefined {
  if (p === undefined) return undefined;
  const bits = BITS[family];
  const min = bits - (8 + Math.log2(LIMITS.blockChunks));
  if (typeof p !== 'number' || !Number.isInteger(p) || p < min || p > bits) {
    throw invalid(`${what} must be an integer from ${min} to ${bits} for IPv${family} (a block spans at most ${LIMITS.blockChunks * 256} addresses)`);
  }
  return p;
}

function checkQuarantine(q: unknown): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q !== 'number' || !Number.isInteger(q) || q < 0 || q > LIMITS.quarantineSeconds) throw invalid(`quarantineSeconds must be an integer from 0 to ${LIMITS.quarantineSeconds}`);
  return q === 0 ? undefined : q;
}

function checkDns(d: unknown): { domain: string } | undefined {
  if (d === undefined) return undefined;
  const domain = (d as { domain?: unknown })?.domain;
  if (typeof d !== 'object' || d === null || typeof domain !== 'string' || !DOMAIN_RE.test(domain) || !domain.includes('.')) {
    throw invalid('dns.domain must be a DNS domain such as prod.example.com');
  }
  return { domain: domain.toLowerCase().replace(/\.$/, '') };
}

function parseRequestedAddress(text: string): { family: Family; value: bigint; prefixLength?: number } {
  if (typeof text !== 'string') throw invalid('address must be a string');
  if (text.includes('/')) {
    const r = parseRange(text);
    const p = Number(text.split('/')[1]);
    return { family: r.family, value: r.start, prefixLength: p };
  }
  return parseAddress(text);
}

function checkTopology(rangeTexts: unknown, excludeTexts: unknown): { family: Family; ranges: ParsedRange[]; exclude: ParsedRange[] } {
  if (!Array.isArray(rangeTexts) || rangeTexts.length === 0) throw invalid('ranges must be a non-empty list');
  if (rangeTexts.length > LIMITS.rangesPerPool) throw invalid(`at most ${LIMITS.rangesPerPool} ranges per pool`);
  if (!Array.isArray(excludeTexts)) throw invalid('exclude must be a list');
  if (excludeTexts.length > LIMITS.excludesPerPool) throw invalid(`at most ${LIMITS.excludesPerPool} exclude entries per pool`);
  const { family, ranges } = parseRanges(rangeTexts as string[]);
  for (const r of ranges) {
    if (r.end - r.start + 1n > blockSize(family!, MAX_RANGE_PREFIX[family!])) throw invalid(`range ${r.text} is larger than the limit of a /${MAX_RANGE_PREFIX[family!]} per range`);
  }
  const dup = findOverlap(ranges);
  if (dup) throw invalid(`ranges ${dup[0].text} and ${dup[1].text} overlap`);
  const ex = parseRanges(excludeTexts as string[], 'exclude entries');
  if (ex.family !== undefined && ex.family !== family) throw invalid(`exclude entries are IPv${ex.family} but the ranges are IPv${family}`);
  const segs = normalize(ranges);
  for (const e of ex.ranges) {
    if (!segs.some((s) => overlaps(s, e))) throw invalid(`exclude entry ${e.text} is outside every range of the pool`);
  }
  return { family: family!, ranges, exclude: ex.ranges };
}

function geometryOf(family: Family, ranges: ParsedRange[], exclude: ParsedRange[]): Geometry {
  const segments = subtract(normalize(ranges), normalize(exclude));
  return { family, segments, offsets: cumulativeOffsets(segments), size: totalSize(segments) };
}

function checkNoOverlap(pools: Pool[], ranges: ParsedRange[], selfUid: string | undefined, zone: string) {
  for (const p of pools) {
    if (p.uid === selfUid) continue;
    for (const other of p.ranges) {
      const o = parseRange(other);
      if (o.family !== ranges[0]!.family) continue;
      const hit = ranges.find((r) => overlaps(r, o));
      if (!hit) continue;
      // Name the other pool only when it is in the caller's zone: a zone's caller may not read other zones.
      if (p.zone === zone) throw new IpamError('Overlap', `range ${hit.text} overlaps ${o.text} of pool ${p.zone}/${p.name} in cloud ${p.cloud}`, { pool: p.name, zone: p.zone, range: o.text });
      throw new IpamError('Overlap', `range ${hit.text} overlaps an existing pool in another zone of cloud ${p.cloud}`, { range: hit.text });
    }
  }
}

/**
 * A zone's claim is the address span of its pools' ranges (excluded addresses count: they still keep
 * every other pool off the space). Refuses a topology that would take the zone over its limit.
 */
function checkZoneLimit(limits: CloudLimits | undefined, pools: Pool[], cloud: string, zone: string, ranges: ParsedRange[], selfUid: string | undefined) {
  const limit = limits && Object.hasOwn(limits.zones, zone) ? BigInt(limits.zones[zone]!.maxAddresses) : undefined;
  if (limit === undefined) return;
  const span = (rs: ParsedRange[]) => rs.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  const others = pools.filter((p) => p.zone === zone && p.uid !== selfUid).reduce((n, p) => n + span(p.ranges.map(parseRange)), 0n);
  const total = others + span(ranges);
  if (total > limit) {
    throw new IpamError('ZoneLimit', `zone ${zone} of cloud ${cloud} may claim at most ${limit} addresses (limit set by the cloud's admin); its pools would span ${total}`, { zone, maxAddresses: limit.toString(), wouldSpan: total.toString() });
  }
}

function sameSpec(a: Pool, b: Pool): boolean {
  const pick = (p: Pool) => stableJson({ ranges: p.ranges, exclude: p.exclude, prefixLength: p.prefixLength, quarantineSeconds: p.quarantineSeconds, dns: p.dns, tags: p.tags, metadata: p.metadata });
  return pick(a) === pick(b);
}


function editList(current: string[], add: string[] | undefined, remove: string[] | undefined, what: string): string[] {
  if (add !== undefined && !Array.isArray(add)) throw invalid(`add ${what} must be a list`);
  if (remove !== undefined && !Array.isArray(remove)) throw invalid(`remove ${what} must be a list`);
  let out = [...current];
  for (const r of remove ?? []) {
    const text = parseRange(r).text;
    if (!out.includes(text)) throw invalid(`${text} is not a ${what} of this pool (it has ${current.join(', ') || 'none'})`);
    out = out.filter((x) => x !== text);
  }
  for (const r of add ?? []) {
    const text = parseRange(r).text;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

interface Candidates {
  total: bigint;
  at(i: bigint): bigint;
}

/** Aligned blocks of `size` that lie wholly inside the segments, indexable uniformly. */
function alignedCandidates(segments: Segment[], size: bigint): Candidates {
  const firsts: bigint[] = [];
  const counts: bigint[] = [];
  for (const s of segments) {
    const first = ((s.start + size - 1n) / size) * size;
    const last = ((s.end + 1n) / size) * size - size;
    firsts.push(first);
    counts.push(last >= first ? (last - first) / size + 1n : 0n);
  }
  const cum = cumulativeOffsets(counts.map((c) => ({ start: 0n, end: c - 1n })));
  const total = counts.reduce((a, b) => a + b, 0n);
  return {
    total,
    at(i: bigint) {
      let lo = segmentOf(cum, i);
      while (counts[lo] === 0n) lo++;
      return firsts[lo]! + (i - cum[lo]!) * size;
    },
  };
}

function chunksOf(segments: Segment[]): Candidates {
  const chunkSegs = normalize(segments.map((s) => ({ start: chunkBase(s.start) / CHUNK, end: chunkBase(s.end) / CHUNK })));
  const offs = cumulativeOffsets(chunkSegs);
  return {
    total: totalSize(chunkSegs),
    at(i: bigint) {
      return addressAt(chunkSegs, offs, i) * CHUNK;
    },
  };
}

function blockChunks(start: bigint, size: bigint): bigint[] {
  const out: bigint[] = [];
  for (let b = chunkBase(start); b < start + size; b += CHUNK) out.push(b);
  return out;
}

function blockOffsets(start: bigint, size: bigint, base: bigint): number[] {
  const from = start > base ? Number(start - base) : 0;
  const to = start + size < base + CHUNK ? Number(start + size - base) : Number(CHUNK);
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function blockChanges(start: bigint, size: bigint, cidr: string): ChunkChange[] {
  return blockChunks(start, size).map((base) => ({ base, offsets: blockOffsets(start, size, base), blockCidr: cidr }));
}

function firstBusy(start: bigint, size: bigint, states: Map<bigint, ChunkState>, nowMs: number): bigint | undefined {
  for (const base of blockChunks(start, size)) {
    const st = states.get(base);
    if (!st) continue;
    for (const o of blockOffsets(start, size, base)) if (st.used.has(o) && !((st.quarantine.get(o) ?? Infinity) <= nowMs)) return base + BigInt(o);
  }
  return undefined;
}

/** The chunk changes for a block if every address in it is free, else undefined. */
function blockPlan(pool: Pool, start: bigint, size: bigint, prefix: number, states: Map<bigint, ChunkState>, nowMs: number): ChunkChange[] | undefined {
  if (firstBusy(start, size, states, nowMs) !== undefined) return undefined;
  const cidr = `${formatAddress(pool.family, start)}/${prefix}`;
  return blockChanges(start, size, cidr).map((ch) => {
    const st = states.get(ch.base);
    const reuse = new Map<number, number>();
    for (const o of ch.offsets) {
      const q = st?.quarantine.get(o);
      if (q !== undefined) reuse.set(o, q);
    }
    return { ...ch, expectVersion: st?.version ?? null, ...(reuse.size ? { reuse } : {}) };
  });
}

function encodeCursor(value: bigint): string {
  return Buffer.from(value.toString(16)).toString('base64url');
}

function decodeCursor(cursor: string, family: Family): { base: bigint; offset: number } {
  try {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new Error();
    const hex = Buffer.from(cursor, 'base64url').toString();
    if (!/^[0-9a-f]{1,32}$/.test(hex)) throw new Error();
    const v = BigInt('0x' + hex);
    if (family === 4 && v > 0xffffffffn) throw new Error();
    return { base: chunkBase(v), offset: Number(v % CHUNK) };
  } catch {
    throw invalid('cursor is not valid for this listing');
  }
}
