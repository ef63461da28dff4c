/**
 * Group commit: concurrent single-address allocations (a prefix pool's: single blocks) from one pool that arrive while the engine
 * already has `groupCommit` transactions in flight for it wait, and go together in one transaction.
 * A group is an optimisation, never a shared fate: a member whose group fails is allocated on its own.
 */

import { BITS } from '../core/ip.js';
import { spaceOf, type AllocateRequest, type CallContext } from '../core/model.js';
import { slotStart } from '../core/chunk.js';
import { parseRequestedAddress } from './checks.js';
import { poolKey } from './cache.js';
import { allocationRecord, fieldsOf, type RecordFields } from './records.js';
import type { ChunkChange } from './store.js';
import { checkName } from '../core/validate.js';
import type { Engine } from './context.js';
import type { Allocated, Allocations } from './allocations.js';
import { claimsFor } from './claims.js';
import type { UniqueClaim } from '../core/uniqueness.js';

/** A single-address allocation, validated, waiting for its group's transaction. */
interface Waiting {
  req: AllocateRequest;
  fields: RecordFields;
  ctx: CallContext;
  resolve: (r: Allocated) => void;
  reject: (e: unknown) => void;
}

const GROUP_MAX = 48; // 2 items each + chunk + shard: 98 of a transaction's 100
/** A transaction's item limit, less the group's chunk and shard items. */
const GROUP_ITEMS = 100 - 2;
/** Items a member may add: record, holder claim, and at most a MAC, a hostname and a zone claim. */
const itemsOf = (w: Waiting) => 2 + (w.fields.mac !== undefined ? 1 : 0) + (w.fields.hostname !== undefined ? 1 : 0) + (w.fields.byZone ? 1 : 0);

export class GroupCommit {
  private readonly groups = new Map<string, { queue: Waiting[]; inflight: number }>();

  constructor(private readonly e: Engine, private readonly allocations: Allocations) {}

  async allocate(req: AllocateRequest, ctx: CallContext): Promise<Allocated> {
    checkName('cloud', req.cloud);
    checkName('zone', req.zone);
    checkName('pool', req.pool);
    return this.allocateFields(req, fieldsOf(req), ctx);
  }

  /** The same, with the record's fields validated already (the zone route's carry its claim: `byZone`). */
  async allocateFields(req: AllocateRequest, fields: RecordFields, ctx: CallContext): Promise<Allocated> {
    const wanted = req.address === undefined ? undefined : parseRequestedAddress(req.address);
    if (this.e.groupCommit > 0 && !wanted && (req.prefixLength === undefined || req.prefixLength === 32 || req.prefixLength === 128)) {
      const key = poolKey(req.cloud, req.zone, req.pool);
      const g = this.groups.get(key);
      if (g && g.inflight >= this.e.groupCommit) {
        // This engine is busy with the pool: wait, and go with the next group.
        return new Promise((resolve, reject) => {
          g.queue.push({ req, fields, ctx, resolve, reject });
        });
      }
      return this.inGroupSlot(key, () => this.allocations.allocateOne(req, fields, wanted, ctx));
    }
    return this.allocations.allocateOne(req, fields, wanted, ctx);
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
    while (g.queue.length > 0 && g.inflight < this.e.groupCommit) {
      // One claim per (holder, name), per MAC and per host name in a transaction: a repeated request
      // waits for the next group, where it finds the first one's claim (the same address back, or 409).
      // (A zone claim is per (zone, holder, name): the pool's zone, so the holder key covers it.)
      const group: Waiting[] = [];
      const seen = new Set<string>();
      const later: Waiting[] = [];
      let items = 0;
      for (const w of g.queue) {
        const ks = [`holder#${w.fields.holder.kind}#${w.fields.holder.id}#${w.fields.name}`];
        if (w.fields.mac !== undefined) ks.push(`mac#${w.fields.mac}`);
        if (w.fields.hostname !== undefined) ks.push(`host#${w.fields.hostname.split('.')[0]}`);
        if (group.length < GROUP_MAX && items + itemsOf(w) <= GROUP_ITEMS && !ks.some((k) => seen.has(k))) {
          for (const k of ks) seen.add(k);
          items += itemsOf(w);
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
          return this.allocations.allocateOne(w.req, w.fields, undefined, w.ctx).then(w.resolve, w.reject);
        }),
      );
    try {
      if (group.length === 1) return void (await each(group));
      const { req } = group[0]!;
      const pool = await this.e.cache.requirePool(req.cloud, req.zone, req.pool);
      const prefix = pool.prefixLength ?? BITS[pool.family];
      // What one slot is: an address, or a prefix pool's block (lib/core/chunk.ts).
      const unit = pool.prefixPool ? pool.prefixLength! : BITS[pool.family];
      // A member whose hostname the pool refuses goes on its own, to get its own 400.
      const claims = new Map<Waiting, UniqueClaim[]>();
      for (const w of group) await claimsFor(this.e, pool, w.fields).then((c) => claims.set(w, c), () => undefined);
      const single = group.filter((w) => (w.req.prefixLength ?? prefix) === unit && claims.has(w));
      const others = group.filter((w) => !single.includes(w));
      const geo = this.e.cache.geometry(pool);
      const picked = pool.importing || single.length < 2 ? undefined : await this.allocations.pick(pool, geo, 1n, unit);
      if (!picked) return void (await each(group));
      const base = picked.plan[0]!.base;
      const state = this.e.cache.cachedChunk(pool, base);
      const free = this.allocations.freeOffsets(geo, base, state, this.e.now(), pool).filter((o) => !state?.quarantine.has(o));
      shuffle(free);
      const members = single.slice(0, free.length);
      const rest = [...single.slice(free.length), ...others];
      if (members.length < 2) return void (await each(group));
      const at = new Date(this.e.now()).toISOString();
      const allocations = members.map((w, i) => allocationRecord(pool, slotStart(spaceOf(pool), base + BigInt(free[i]!)), unit, w.fields, w.ctx, at));
      const chunk: ChunkChange = { base, offsets: free.slice(0, members.length) };
      const restDone = each(rest);
      // A group is an optimisation, never a shared fate: if its transaction cannot even be sent (one
      // member's record the store refuses, a store error), every member is tried on its own and gets
      // its own answer, exactly as without group commit.
      // A held MAC or hostname cancels the transaction: then every member goes on its own, and only
      // the one whose claim is held gets a 409.
      // Taken in this engine's view while in flight: concurrent groups and singles of the pool pick other offsets.
      this.e.cache.noteTaken(pool, chunk);
      const outcome = await this.e.store
        .commitBulk({ pool, allocations, chunk, shard: Math.floor(Math.random() * pool.shards), now: this.e.now(), claims: members.map((w) => claims.get(w)!) })
        .catch(() => 'failed' as const);
      if (outcome === 'ok') {
        members.forEach((w, i) => w.resolve({ allocation: allocations[i]!, created: true, pool }));
      } else {
        // Not taken; others' marks in the chunk stay (a member that then loses a condition learns the chunk's real state).
        this.e.cache.untake(pool, chunk);
        await each(members);
      }
      await restDone;
    } catch (e) {
      // The pool is gone, the store is down: each member of the group's transaction learns it (as a
      // single allocation would); those allocating on their own get their own answers.
      for (const w of group) if (!onTheirOwn.has(w)) w.reject(e);
    }
  }

}

/** Fisher-Yates, in place: concurrent engines that share a chunk pick different offsets. */
function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
