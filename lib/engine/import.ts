/**
 * Import: fills an empty, fenced pool in address order with unconditional writes (the migration
 * path from another IPAM, and the way to load millions quickly).
 */

import { invalid, IpamError } from '../core/errors.js';
import { holderText, type Allocation, type CallContext, type Holder, type Pool } from '../core/model.js';
import { chunksOf, freeOffsets } from '../core/planner.js';
import { checkHostnameIn, claimLabel, claimsOf, claimText, type UniqueClaim } from '../core/uniqueness.js';
import { contention, RACED, retrying } from './retry.js';
import { checkHolder } from './checks.js';
import { claimConflict } from './claims.js';
import { singleRecord } from './records.js';
import { checkAllocationName, checkHostname, normalizeMac } from '../core/validate.js';
import type { Engine } from './context.js';

type ImportRecord = { holder: Holder; name?: string; hostname?: string; mac?: string };
/** A record read and checked before anything is written. */
type Checked = { holder: Holder; name: string; hostname?: string; mac?: string };

export class Importer {
  constructor(private readonly e: Engine) {}

  /**
   * Imports allocations into an empty pool, filling it in address order: the migration path from
   * another IPAM, and the way to load millions quickly. The pool is fenced for the duration
   * (allocations are refused with a retryable error), records are written in unconditional transactions of 100 puts,
   * and the counters are set when it ends. The whole source is read and checked first (readAll):
   * holder claims, MACs and hostnames must be unique within the import and not held already.
   */
  async importAllocations(
    cloud: string,
    zone: string,
    poolName: string,
    source: AsyncIterable<ImportRecord> | Iterable<ImportRecord>,
    ctx: CallContext,
    onProgress?: (imported: number) => void,
  ): Promise<{ imported: number }> {
    const at = new Date(this.e.now()).toISOString();
    const { records, domain } = await this.readAll(cloud, zone, poolName, source);
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
    let next = 0;
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
          const claims: UniqueClaim[][] = [];
          for (const o of free) {
            const r = records[next];
            if (r === undefined) break;
            records[next++] = undefined; // written: let it go
            offsets.push(o);
            allocations.push(singleRecord(fenced, base + BigInt(o), r.holder, r.name, r, ctx, at));
            claims.push(claimsOf(fenced, r, domain));
          }
          if (offsets.length) {
            counted += offsets.length;
            // At most two chunks (each ~6 transactions of 100 puts) in flight: enough to keep DynamoDB busy.
            if (writes.length >= 2) await writes.shift();
            const w = this.writeChunk(fenced, base, offsets, allocations, claims);
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
      if (!sourceDone && next < records.length) failure = new IpamError('PoolExhausted', `pool ${cloud}/${zone}/${poolName} is full after importing ${imported}; the rest was not imported`, { imported });
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

  /**
   * Reads the whole source and checks it before anything is written: every record's holder, name, MAC
   * and hostname (a label, or an FQDN in the pool's domain); no (holder, name), MAC or hostname twice
   * (400); no MAC or hostname another pool of the same network or domain already holds (409).
   */
  private async readAll(cloud: string, zone: string, poolName: string, source: AsyncIterable<ImportRecord> | Iterable<ImportRecord>): Promise<{ records: (Checked | undefined)[]; domain: string | undefined }> {
    const pool = await this.e.cache.requirePool(cloud, zone, poolName, true);
    if (pool.prefixPool) throw invalid(`pool ${cloud}/${zone}/${poolName} is a prefix pool: import loads single addresses into an address pool; allocate blocks with POST .../allocations`);
    // Refused early, before reading a long source (and again when the import fences the pool).
    if ((await this.e.store.readShards(pool)).some((sh) => sh.allocated !== 0n)) throw new IpamError('PoolNotEmpty', `import needs an empty pool; ${cloud}/${zone}/${poolName} holds allocations`);
    const domain = await this.e.domainOf(pool);
    const where = `pool ${cloud}/${zone}/${poolName}`;
    const records: Checked[] = [];
    const seen = new Set<string>();
    const once = (key: string, what: () => string) => {
      if (seen.has(key)) throw invalid(`the import gives ${what()} twice; nothing was imported`);
      seen.add(key);
    };
    for await (const r of source) {
      const holder = checkHolder(r.holder);
      const name = r.name === undefined ? 'default' : checkAllocationName(r.name);
      const mac = r.mac === undefined ? undefined : normalizeMac(r.mac);
      const hostname = r.hostname === undefined ? undefined : checkHostname(r.hostname);
      if (hostname !== undefined) checkHostnameIn(hostname, domain, where);
      once(`holder#${holder.kind}#${holder.id}#${name}`, () => `${holderText(holder)} ${JSON.stringify(name)}`);
      for (const c of claimsOf(pool, { mac, hostname }, domain)) once(claimText(c), () => claimLabel(c));
      records.push({ holder, name, ...(mac !== undefined ? { mac } : {}), ...(hostname !== undefined ? { hostname } : {}) });
    }
    // Claims held already: only another pool of the same network (MACs) or domain (hostnames) can hold
    // them (this pool is empty), so they are read only when such a pool exists.
    const others = (await this.e.store.listPools(cloud)).pools.filter((p) => p.uid !== pool.uid);
    const macShared = pool.network !== undefined && others.some((p) => p.zone === pool.zone && p.network === pool.network);
    const nameShared = domain !== undefined && (await Promise.all(others.map((p) => this.e.domainOf(p)))).includes(domain);
    if (macShared || nameShared) {
      const wanted = records.flatMap((r) => claimsOf(pool, r, domain).filter((c) => (c.kind === 'mac' ? macShared : nameShared)));
      for (let i = 0; i < wanted.length; i += 1000) {
        const slice = wanted.slice(i, i + 1000);
        const held = await this.e.store.claimOwners(slice);
        for (const claim of slice) {
          const owner = held.get(claimText(claim));
          if (!owner) continue;
          const err = await claimConflict(this.e, { claim, owner }, zone);
          if (err !== 'stale') throw err;
        }
      }
    }
    return { records, domain };
  }

  /** One chunk's items; a stale claim in the way is dropped and the chunk written again (its puts repeat harmlessly). */
  private async writeChunk(pool: Pool, base: bigint, offsets: number[], allocations: Allocation[], claims: UniqueClaim[][]): Promise<void> {
    for (let attempt = 0; attempt < this.e.maxAttempts; attempt++) {
      const out = await this.e.store.importChunk(pool, base, offsets, allocations, claims);
      if (out.ok) return;
      // Taken while the import ran, by another pool of the network or domain: the import stops here.
      const err = await claimConflict(this.e, out, pool.zone);
      if (err !== 'stale') throw err;
    }
    throw contention('importing');
  }

}
