/**
 * Import: fills an empty, fenced pool in address order with unconditional writes (the migration
 * path from another IPAM, and the way to load millions quickly).
 */

import { invalid, IpamError } from '../core/errors.js';
import { holderText, type Allocation, type CallContext, type Holder, type Pool } from '../core/model.js';
import { chunksOf, freeOffsets } from '../core/planner.js';
import { contention, RACED, retrying } from './retry.js';
import { checkHolder } from './checks.js';
import { singleRecord } from './records.js';
import { checkAllocationName } from '../core/validate.js';
import type { Engine } from './context.js';

export class Importer {
  constructor(private readonly e: Engine) {}

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
    const at = new Date(this.e.now()).toISOString();
    const fenced = await retrying('starting the import', this.e.maxAttempts, async () => {
      const start = await this.e.cache.requirePool(cloud, zone, poolName, true);
      if (start.importing) throw new IpamError('Contention', `pool ${cloud}/${zone}/${poolName} is already being imported`);
      const shards0 = await this.e.store.readShards(start);
      if (shards0.some((sh) => sh.allocated !== 0n)) throw new IpamError('PoolNotEmpty', `import needs an empty pool; ${cloud}/${zone}/${poolName} holds allocations`);
      const { cloudVersion } = await this.e.store.listPools(cloud);
      const next: Pool = { ...start, importing: true, epoch: start.epoch + 1, updatedAt: at, updatedBy: ctx.principal };
      return (await this.e.store.replacePoolTopology(start, next, cloudVersion, shards0)) === 'ok' ? next : RACED;
    });
    this.e.cache.remember(fenced);
    const geo = this.e.cache.geometry(fenced);
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
        const existing = await this.e.store.getChunks(fenced, bases);
        const writes: Promise<void>[] = [];
        let counted = 0;
        for (const base of bases) {
          if (existing.has(base)) continue; // a chunk with history (quarantine) is left to normal allocation
          const free = freeOffsets(geo, base, undefined, 0);
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
            const w = this.e.store.importChunk(fenced, base, offsets, allocations);
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
    const shards = await this.e.store.readShards(fenced);
    const counts = shards.map((_, k) => BigInt(Math.floor(imported / shards.length) + (k < imported % shards.length ? 1 : 0)));
    const done: Pool = { ...fenced, importing: false, epoch: fenced.epoch + 1, updatedAt: new Date(this.e.now()).toISOString() };
    delete done.importing;
    if ((await this.e.store.finishImport(fenced, done, shards, counts)) !== 'ok') throw contention('finishing the import');
    this.e.cache.remember(done);
    if (failure) throw failure;
    return { imported };
  }

}
