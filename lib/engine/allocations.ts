/**
 * Allocation: a random free address or aligned block (planned by lib/core/planner.ts, with the reads
 * it asks for), or a requested one; a repeat of the same (pool, holder, name) and its mismatches;
 * lookups, listings and attribute changes of allocations.
 */
import { chunkBaseOf, offsetIn, slotAddresses, slotOf, slotStart } from '../core/chunk.js';
import { invalid, IpamError } from '../core/errors.js';
import { stableJson } from '../core/json.js';
import { BITS, blockSize, containsSpan, formatAddress, parseAddress, parseRange, type Family } from '../core/ip.js';
import { holderText, spaceOf, type Allocation, type AllocateRequest, type AllocationPatch, type CallContext, type Holder, type Page, type Pool } from '../core/model.js';
import { blockChunks, blockPlan, firstBusy, freeOffsets, probe, scan, seededRandom, type Geometry, type Plan, type PlanInput } from '../core/planner.js';
import { AGAIN, RACED, retrying } from './retry.js';
import { checkHolder, checkPrefix, parseRequestedAddress } from './checks.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { allocationRecord, slotText, type RecordFields } from './records.js';
import type { ChunkChange, ChunkState } from './store.js';
import { checkAllocationName, checkHostname, checkMetadata, checkName, checkTags, LIMITS, normalizeMac } from '../core/validate.js';
import { usageOf, type Engine } from './context.js';
import type { CloudSnapshot } from './cache.js';
import { claimConflict, claimHolder, claimsFor } from './claims.js';
import { checkHostnameIn, claimsOf, sameClaim } from '../core/uniqueness.js';


/** An allocation as the engine answers it, with the pool definition it was made (or found) under. */
export interface Allocated {
  allocation: Allocation;
  created: boolean;
  /**
   * The pool definition this engine made (or found) the allocation under: what the answer's network is
   * taken from, without a read. Absent when the allocation is another pool's (a zone claim won there).
   */
  pool?: Pool;
}

export class Allocations {
  constructor(private readonly e: Engine) {}

  /** One allocation in its own transaction (any size, a requested address, retries). */
  async allocateOne(req: AllocateRequest, fields: RecordFields, wanted: ReturnType<typeof parseRequestedAddress> | undefined, ctx: CallContext): Promise<Allocated> {
    const { holder, name } = fields;
    let refreshPool = false;
    return retrying('allocating', this.e.maxAttempts, async () => {
      const pool = await this.e.cache.requirePool(req.cloud, req.zone, req.pool, refreshPool);
      refreshPool = false;
      if (pool.importing) throw new IpamError('Contention', `pool ${req.cloud}/${req.zone}/${req.pool} is being imported; retry when the import has finished`, { pool: req.pool, importing: true });
      const geo = this.e.cache.geometry(pool);
      const claims = await claimsFor(this.e, pool, fields);
      const space = spaceOf(pool);
      const asked = req.prefixLength ?? wanted?.prefixLength;
      if (pool.prefixPool && asked !== undefined && asked !== pool.prefixLength) throw invalid(`pool ${pool.name} is a prefix pool of /${pool.prefixLength} blocks; it hands out /${pool.prefixLength} only`);
      const prefix = pool.prefixPool ? pool.prefixLength! : (checkPrefix(pool.family, asked ?? pool.prefixLength, 'prefixLength') ?? BITS[pool.family]);
      // `size` counts the pool's slots (a prefix pool's block is one slot); `addresses` what it holds.
      const addresses = blockSize(pool.family, prefix);
      const size = pool.prefixPool ? 1n : addresses;
      let plan: ChunkChange[];
      let start: bigint;
      if (wanted) {
        if (wanted.family !== pool.family) throw invalid(`${req.address} is not an IPv${pool.family} address; pool ${pool.name} holds IPv${pool.family}`);
        if (wanted.value % addresses !== 0n) throw invalid(`${req.address} is not aligned to a /${prefix} block`);
        const inBlock = (v: bigint) => v >= wanted.value && v < wanted.value + addresses;
        const reserved = pool.reserved?.find((r) => inBlock(parseAddress(r).value));
        if (reserved !== undefined) throw invalid(`${reserved} is reserved in network ${pool.network} (its network address, broadcast or gateway) and is never allocated`, { address: reserved });
        const slot = slotOf(space, wanted.value);
        if (!containsSpan(geo.segments, slot, slot + size - 1n)) {
          throw invalid(`${formatAddress(pool.family, wanted.value)}${addresses > 1n ? `/${prefix}` : ''} is not in pool ${pool.name} (${pool.ranges.join(', ')}${pool.exclude.length ? ` minus ${pool.exclude.join(', ')}` : ''})`);
        }
        start = slot;
        plan = await this.planAt(pool, start, size, prefix);
      } else {
        const picked = await this.pick(pool, geo, size, prefix);
        if (!picked) {
          const held = await this.e.store.getHeld(pool, holder, name);
          if (held) return { ...this.repeat(held, req, fields), pool };
          throw new IpamError('PoolExhausted', `pool ${req.cloud}/${req.zone}/${req.pool} has no free ${addresses > 1n ? `/${prefix} block` : 'address'}`, { pool: req.pool });
        }
        ({ plan, start } = picked);
      }
      const allocation = allocationRecord(pool, slotStart(space, start), prefix, fields, ctx, new Date(this.e.now()).toISOString());
      // Taken in this engine's view while the commit is in flight, so that its concurrent allocations
      // (and group commits) of the pool aim elsewhere instead of racing for the same slot.
      for (const ch of plan) this.e.cache.noteTaken(pool, ch);
      const out = await this.e.store
        .commitAllocation({ pool, allocation, chunks: plan, shard: Math.floor(Math.random() * pool.shards), addressCount: addresses, now: this.e.now(), claims })
        .catch((e: unknown) => {
          for (const ch of plan) this.e.cache.untake(pool, ch);
          throw e;
        });
      if (out.ok) return { allocation, created: true, pool };
      // Not taken after all (a lost chunk condition brings the chunk's real state instead).
      if (out.reason !== 'chunk') for (const ch of plan) this.e.cache.untake(pool, ch);
      switch (out.reason) {
        case 'holder':
          if (out.existing) return { ...this.repeat(out.existing, req, fields), pool };
          return AGAIN;
        case 'epoch':
          refreshPool = true;
          return AGAIN;
        case 'chunk':
          this.e.cache.noteChunk(pool, out.base, out.state);
          if (wanted && out.state) {
            const blocked = plan.find((ch) => ch.base === out.base)!;
            const nowMs = this.e.now();
            const busy = blocked.offsets.find((o) => out.state!.used.has(o) && !((out.state!.quarantine.get(o) ?? Infinity) <= nowMs));
            if (busy !== undefined) throw await this.takenError(pool, out.base + BigInt(busy), out.state);
          }
          return AGAIN;
        case 'quarantined': {
          // Released (by this pool or an earlier one over the same space) and still in quarantine.
          this.e.cache.learnQuarantine(pool, out.value, chunkBaseOf(out.value), out.until);
          if (wanted) throw new IpamError('AddressTaken', `${slotText(pool, out.value)} was released recently and is in quarantine until ${new Date(out.until).toISOString()}`, { address: slotText(pool, out.value) });
          return AGAIN;
        }
        case 'claim': {
          // The zone route's (zone, holder, name) is held: a concurrent identical request won, in this pool
          // or another; its allocation is the answer (unless the claim was stale: dropped, try again).
          if (out.claim.kind === 'zoneholder') {
            const won = await claimHolder(this.e, out.claim, out.owner);
            return won ? this.repeat(won, req, fields) : AGAIN;
          }
          // The MAC or hostname is held: 409, unless the claim was stale (dropped: try again).
          const err = await claimConflict(this.e, out, pool.zone);
          if (err === 'stale') return AGAIN;
          throw err;
        }
        case 'taken':
        case 'contention':
          for (const ch of plan) this.e.cache.forgetChunk(pool, ch.base);
          return RACED;
      }
    });
  }

  /**
   * The same (pool, holder, name) asked again: the existing allocation, unless the request specifies
   * a field with another value (AWS's IdempotentParameterMismatch). A field the request leaves out is
   * not compared: a repeat of `allocate --vm x` after the allocation got a MAC (PATCH) still answers it.
   */
  repeat(existing: Allocation, req: Omit<AllocateRequest, 'pool'>, fields: RecordFields): { allocation: Allocation; created: boolean } {
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

  /** The 409 for slot `value` of the pool, taken or in quarantine. */
  private async takenError(pool: Pool, value: bigint, state: ChunkState): Promise<IpamError> {
    const address = slotText(pool, value);
    const q = state.quarantine.get(offsetIn(value));
    if (q !== undefined) return new IpamError('AddressTaken', `${address} was released recently and is in quarantine until ${new Date(q).toISOString()}`, { address });
    const holderOf = await this.lookup(pool.cloud, formatAddress(pool.family, slotStart(spaceOf(pool), value))).catch(() => undefined);
    return new IpamError('AddressTaken', `${address} is already allocated${holderOf ? ` to ${holderOf.vm !== undefined ? `vm:${holderOf.vm}` : `vip:${holderOf.vip}`} (${holderOf.cidr})` : ''}`, { address });
  }

  /** Plans a specific address or block: the chunks and offsets it covers. */
  private async planAt(pool: Pool, start: bigint, size: bigint, prefix: number): Promise<ChunkChange[]> {
    const nowMs = this.e.now();
    if (size === 1n) {
      const base = chunkBaseOf(start);
      const o = Number(start - base);
      const cached = this.e.cache.cachedChunk(pool, base);
      const q = cached?.quarantine.get(o);
      return [{ base, offsets: [o], ...(q !== undefined && q <= nowMs ? { reuse: new Map([[o, q]]) } : {}) }];
    }
    const bases = blockChunks(start, size);
    const states = await this.e.store.getChunks(pool, bases);
    for (const b of bases) this.e.cache.noteChunk(pool, b, states.get(b));
    const plan = blockPlan(pool.family, start, size, prefix, states, nowMs);
    if (!plan) {
      const busy = firstBusy(start, size, states, nowMs)!;
      throw await this.takenError(pool, busy, states.get(chunkBaseOf(busy))!);
    }
    return plan;
  }

  /** A random free address or aligned block, or undefined when the pool has none. */
  async pick(pool: Pool, geo: Geometry, size: bigint, prefix: number): Promise<{ plan: ChunkChange[]; start: bigint } | undefined> {
    const input = { geometry: geo, size, prefix, now: this.e.now(), hint: (b: bigint) => this.e.cache.cachedChunk(pool, b), learned: (b: bigint) => this.e.cache.learned(pool, b) };
    const probed = await this.planWithReads(pool, input, probe);
    if (probed.kind === 'found') return { plan: probed.changes, start: probed.start };
    if (probed.kind === 'none') return undefined;
    // The probes hit full space: is anything left at all?
    const usage = await usageOf(this.e.store, pool);
    if (BigInt(usage.free) < size * slotAddresses(spaceOf(pool))) return undefined;
    const scanned = await this.planWithReads(pool, input, scan);
    return scanned.kind === 'found' ? { plan: scanned.changes, start: scanned.start } : undefined;
  }

  /** Plans, reads what the plan asks for, and plans again (one random seed for every round), until it answers. */
  private async planWithReads(pool: Pool, input: Omit<PlanInput, 'read' | 'random'>, phase: (i: PlanInput) => Plan): Promise<Plan> {
    const seed = Math.floor(Math.random() * 2 ** 32);
    let read = new Map<bigint, ChunkState | undefined>();
    let at: bigint | undefined;
    for (;;) {
      const plan = phase({ ...input, read, random: seededRandom(seed), ...(at !== undefined ? { from: at } : {}) });
      if (plan.kind !== 'read') return plan;
      // A scan that moved on forgets the chunks it has passed.
      if (plan.at !== undefined && plan.at !== at) {
        if (at !== undefined) read = new Map();
        at = plan.at;
      }
      const states = await this.e.store.getChunks(pool, plan.bases);
      for (const b of plan.bases) {
        this.e.cache.noteChunk(pool, b, states.get(b));
        read.set(b, states.get(b));
      }
    }
  }

  freeOffsets(geo: Geometry, base: bigint, state: ChunkState | undefined, nowMs: number, pool?: Pool): number[] {
    return freeOffsets(geo, base, state, nowMs, pool && this.e.cache.learned(pool, base));
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

  /**
   * The allocation holding an address: its own record; else the block of a prefix pool holding the
   * address (the cloud's pools as cached: no read); else a block of an address pool covering it; else,
   * before answering that nothing holds it, the prefix pools read afresh (one created by another
   * engine since the cache was filled).
   */
  async findAllocation(cloud: string, family: Family, value: bigint, zone?: string): Promise<Allocation | undefined> {
    const inZone = (a: Allocation | undefined) => (a && (zone === undefined || a.zone === zone) ? a : undefined);
    const exact = await this.e.store.getAllocationAt(cloud, family, value);
    if (exact) return inZone(exact);
    const prefixPoolOf = (snap: CloudSnapshot | undefined) => snap?.pools.find((p) => p.prefixPool && p.family === family && p.ranges.some((r) => containsSpan([parseRange(r)], value, value)));
    const inBlock = (p: Pool | undefined) => (p ? this.e.store.getAllocationAt(cloud, family, value, p.prefixLength) : undefined);
    const cached = prefixPoolOf(this.e.cache.cachedCloud(cloud));
    const block = await inBlock(cached);
    if (block) return inZone(block);
    for (const cidr of await this.e.store.blocksCovering(cloud, family, value)) {
      const r = parseRange(cidr);
      if (r.start <= value && value <= r.end) return inZone(await this.e.store.getAllocationAt(cloud, family, r.start));
    }
    const fresh = prefixPoolOf(await this.e.cache.cloud(cloud, true));
    return fresh && fresh.uid !== cached?.uid ? inZone(await inBlock(fresh)) : undefined;
  }

  /** What (pool, holder, name) holds, if anything. */
  async held(cloud: string, zone: string, poolName: string, holder: Holder, name: string): Promise<Allocation | undefined> {
    const pool = await this.e.cache.requirePool(cloud, zone, poolName);
    return this.e.store.getHeld(pool, checkHolder(holder), checkAllocationName(name));
  }

  /** What the holder holds in the cloud, or with `zone` in that zone only. */
  async byHolder(cloud: string, holder: Holder, zone?: string): Promise<Allocation[]> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const all = await this.e.store.byHolder(cloud, checkHolder(holder));
    return zone === undefined ? all : all.filter((a) => a.zone === zone);
  }

  async updateAllocation(cloud: string, address: string, patch: AllocationPatch, ctx: CallContext, zone?: string): Promise<Allocation> {
    const mac = patch.mac === undefined || patch.mac === null ? patch.mac : normalizeMac(patch.mac);
    const hostname = patch.hostname === undefined || patch.hostname === null ? patch.hostname : checkHostname(patch.hostname);
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    return retrying('updating the allocation', this.e.maxAttempts, async () => {
      const prev = await this.lookup(cloud, address, zone);
      const next: Allocation = { ...prev, version: prev.version + 1, updatedAt: new Date(this.e.now()).toISOString(), updatedBy: ctx.principal };
      if (ctx.requestId) next.requestId = ctx.requestId;
      else delete next.requestId;
      if (mac !== undefined) mac === null ? delete next.mac : (next.mac = mac);
      if (hostname !== undefined) hostname === null ? delete next.hostname : (next.hostname = hostname);
      if (tags) next.tags = tags;
      if (metadata) next.metadata = metadata;
      // Nothing would change: no write, no version, no security event.
      if (stableJson([next.mac, next.hostname, next.tags, next.metadata]) === stableJson([prev.mac, prev.hostname, prev.tags, prev.metadata])) return prev;
      const pool = await this.e.cache.requirePool(prev.cloud, prev.zone, prev.pool);
      // The claims that change: the old MAC's or name's given up, the new one's taken, in the same transaction.
      const domain = prev.hostname !== undefined || next.hostname !== undefined ? await this.e.domainOf(pool) : undefined;
      if (hostname) checkHostnameIn(hostname, domain, `pool ${pool.cloud}/${pool.zone}/${pool.name}`);
      const before = claimsOf(pool, prev, domain);
      const after = claimsOf(pool, next, domain);
      const claims = { drop: before.filter((c) => !after.some((d) => sameClaim(c, d))), add: after.filter((c) => !before.some((d) => sameClaim(c, d))) };
      const out = await this.e.store.updateAllocation(pool, prev, next, claims);
      if (out === 'ok') return next;
      if (out === 'raced') return RACED;
      const err = await claimConflict(this.e, out, prev.zone);
      if (err === 'stale') return AGAIN;
      throw err;
    });
  }

  async listAllocations(cloud: string, zone: string, name: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<Allocation>> {
    const pool = await this.e.cache.requirePool(cloud, zone, name);
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.pageSize) throw invalid(`limit must be 1-${LIMITS.pageSize}`);
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, spaceOf(pool));
    const items: Allocation[] = [];
    for await (const base of this.e.store.poolChunks(pool, after?.base)) {
      const from = after && base === after.base ? after.offset + 1 : 0;
      if (from > 255) continue;
      for (const a of await this.e.store.chunkAllocations(pool, base, from)) {
        items.push(a);
        if (items.length === limit) return { items, cursor: encodeCursor(parseAddress(a.address).value) };
      }
    }
    return { items };
  }

}

