/**
 * Repair after failover (an fsck for the table). A replica fed by a stream (local replica, or a
 * DynamoDB global table in another Region) receives the items of one transaction separately, so
 * when the primary is lost mid-stream it can hold, say, an allocation record without its counter
 * increment. The allocation records are the truth; this rebuilds everything derived from them:
 *
 *  - each chunk's free-slot set (`used`) = offsets of its allocated records (blocks expanded)
 *    plus quarantined offsets; missing chunk items are created;
 *  - claims (`HELD#`): one per allocated record, none for anything else;
 *  - uniqueness claims (`MAC#`, `FQDN#`, `ZHELD#`): one per MAC and hostname an allocated record holds
 *    under its pool's current network and domain, and one per record made by the zone route; when two records want one (a replica caught between a release
 *    and the next allocation), the one the claim already points at keeps it, else the earliest;
 *  - each pool's counter shards: the sum equals the allocated addresses.
 *
 * It reads the whole table once (a Scan) and writes only what differs. Run it before serving.
 */
import { BatchWriteCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { parseRange } from '../core/ip.js';
import type { Family } from '../core/ip.js';
import type { DynamoStore } from './store.js';
import { CHUNK_SIZE, slotOf } from '../core/chunk.js';
import { domainOf, type Network } from '../core/network.js';
import { spaceOf, type Pool } from '../core/model.js';
import { claimRef, claimsOf, type UniqueClaim } from '../core/uniqueness.js';
import { AllocationEntity, ChunkEntity, ClaimEntity, ShardEntity, UniqueEntity, type Item } from './entities/index.js';
import { chunkBaseOf, offsetIn, parseBaseKey, PREFIX } from './keys.js';

export interface RepairReport {
  pools: number;
  allocations: number;
  chunksFixed: number;
  claimsCreated: number;
  claimsDeleted: number;
  /** MAC and FQDN claims written, deleted, and wanted by more than one allocation. */
  uniqueCreated: number;
  uniqueDeleted: number;
  uniqueConflicts: number;
  countersFixed: number;
}

export async function repairTable(store: DynamoStore, log: (line: string) => void = () => undefined): Promise<RepairReport> {
  const { doc, table } = store;
  const pools = new Map<string, Item>(); // uid -> pool item
  const shards = new Map<string, Item[]>(); // uid -> shard items
  const chunks = new Map<string, Item>(); // pk|sk -> chunk item
  const allocations: Item[] = [];
  const claims = new Map<string, Item>(); // pk -> held item
  const uniques = new Map<string, Item>(); // pk -> MAC, FQDN or zone claim
  const networks: Item[] = [];
  let start: Item | undefined;
  do {
    const r = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const i of r.Items ?? []) {
      if (i.type === 'pool') pools.set(i.uid, i);
      else if (i.type === 'shard') (shards.get(i.poolUid) ?? shards.set(i.poolUid, []).get(i.poolUid)!).push(i);
      else if (i.type === 'chunk') chunks.set(`${i.pk}|${i.sk}`, i);
      else if (i.type === 'allocation' && AllocationEntity.isAllocated(i)) allocations.push(i);
      else if (i.type === 'held') claims.set(i.pk, i);
      else if (UniqueEntity.is(i)) uniques.set(i.pk, i);
      else if (i.type === 'network') networks.push(i);
    }
    start = r.LastEvaluatedKey;
  } while (start);

  const report: RepairReport = { pools: pools.size, allocations: 0, chunksFixed: 0, claimsCreated: 0, claimsDeleted: 0, uniqueCreated: 0, uniqueDeleted: 0, uniqueConflicts: 0, countersFixed: 0 };
  const wantUnique = new Map<string, { claim: UniqueClaim; a: Item }>();
  const wantUsed = new Map<string, { pool: Item; base: bigint; used: Set<number>; blocks: Map<number, string> }>();
  const allocatedPerPool = new Map<string, bigint>();
  const wantClaims = new Map<string, Item>();
  for (const a of allocations) {
    const pool = pools.get(a.poolUid);
    if (!pool) continue; // a record of a pool the replica does not know: left alone, reported below
    report.allocations++;
    const family = a.family as Family;
    const r = parseRange(a.cidr);
    allocatedPerPool.set(a.poolUid, (allocatedPerPool.get(a.poolUid) ?? 0n) + (r.end - r.start + 1n));
    const want = (base: bigint) => {
      const key = ChunkEntity.key(pool as Pool, base);
      const k = `${key.pk}|${key.sk}`;
      return wantUsed.get(k) ?? wantUsed.set(k, { pool, base, used: new Set(), blocks: new Map() }).get(k)!;
    };
    if (pool.prefixPool) {
      // A prefix pool's block is one slot of its chunk (lib/core/chunk.ts).
      const slot = slotOf(spaceOf(pool as Pool), r.start);
      want(chunkBaseOf(slot)).used.add(offsetIn(slot));
    }
    for (let base = chunkBaseOf(r.start); !pool.prefixPool && base <= r.end; base += CHUNK_SIZE) {
      const w = want(base);
      const from = r.start > base ? r.start : base;
      const to = r.end < base + CHUNK_SIZE - 1n ? r.end : base + CHUNK_SIZE - 1n;
      for (let v = from; v <= to; v++) w.used.add(offsetIn(v));
      if (r.end > r.start) w.blocks.set(offsetIn(from), a.cidr);
    }
    const claim = ClaimEntity.toItem(AllocationEntity.fromItem(a), a.poolUid);
    wantClaims.set(claim.pk, claim);
    if (a.mac !== undefined || a.hostname !== undefined || a.byZone) {
      const p = pool as Pool;
      const domain = domainOf(p, networks.filter((n) => n.cloud === p.cloud) as Network[]);
      for (const c of claimsOf(p, AllocationEntity.fromItem(a), domain)) {
        const pk = UniqueEntity.key(c).pk;
        const other = wantUnique.get(pk);
        if (other) {
          report.uniqueConflicts++;
          const ref = uniques.get(pk)?.ref;
          const keepOther = ref === claimRef(other.a.poolUid, other.a as { address: string; allocatedAt: string }) || (ref !== claimRef(a.poolUid, a as { address: string; allocatedAt: string }) && other.a.allocatedAt <= a.allocatedAt);
          if (keepOther) continue;
        }
        wantUnique.set(pk, { claim: c, a });
      }
    }
  }

  // Chunks: used = allocated offsets + quarantined offsets; nothing else.
  const keysOf = new Set([...chunks.keys(), ...wantUsed.keys()]);
  for (const k of keysOf) {
    const have = chunks.get(k);
    const state = ChunkEntity.fromItem(have);
    const want = wantUsed.get(k);
    const used = new Set(want?.used ?? []);
    for (const o of state?.quarantine.keys() ?? []) used.add(o);
    const same = state && state.used.size === used.size && [...used].every((o) => state.used.has(o));
    if (same) continue;
    const [pk, sk] = k.split('|') as [string, string];
    const poolItem = want?.pool ?? pools.get(sk.slice(PREFIX.chunkMeta.length));
    if (!poolItem) continue;
    const base = want?.base ?? parseBaseKey(pk.slice(pk.lastIndexOf('#') + 1)).base;
    // Quarantine attributes (and anything else) carried over; used and blocks rebuilt.
    const kept: Item = { ...(have ?? {}) };
    for (const a of Object.keys(kept)) if (a === 'used' || ChunkEntity.isBlockAttr(a)) delete kept[a];
    const item: Item = { ...kept, ...ChunkEntity.toItem(poolItem as Pool, base, { used, blocks: want?.blocks ?? new Map(), version: (Number(have?.ver ?? 0) || 0) + 1 }), pk, sk };
    await doc.send(new PutCommand({ TableName: table, Item: item }));
    report.chunksFixed++;
  }

  // Claims: exactly one per allocated record.
  const writes: Item[] = [];
  for (const [pk, c] of wantClaims) {
    const have = claims.get(pk);
    if (!have || have.address !== c.address) {
      writes.push({ PutRequest: { Item: c } });
      report.claimsCreated++;
    }
  }
  for (const [pk, c] of claims) {
    if (!wantClaims.has(pk) && pools.has(c.poolUid)) {
      writes.push({ DeleteRequest: { Key: { pk, sk: c.sk } } });
      report.claimsDeleted++;
    }
  }
  for (const [pk, { claim, a }] of wantUnique) {
    if (uniques.get(pk)?.ref !== claimRef(a.poolUid, a as { address: string; allocatedAt: string })) {
      writes.push({ PutRequest: { Item: UniqueEntity.toItem(claim, AllocationEntity.fromItem(a), a.poolUid) } });
      report.uniqueCreated++;
    }
  }
  for (const [pk, u] of uniques) {
    if (!wantUnique.has(pk) && pools.has(u.poolUid)) {
      writes.push({ DeleteRequest: { Key: { pk, sk: u.sk } } });
      report.uniqueDeleted++;
    }
  }
  for (let i = 0; i < writes.length; i += 25) {
    let pending = writes.slice(i, i + 25);
    while (pending.length) {
      const r = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (r.UnprocessedItems?.[table] as Item[] | undefined) ?? [];
    }
  }

  // Counters: the shards of each pool add up to its allocated addresses.
  for (const [uid, pool] of pools) {
    const list = (shards.get(uid) ?? []).sort((a, b) => a.index - b.index);
    const total = list.reduce((n, s) => n + BigInt(s.allocated), 0n);
    const want = allocatedPerPool.get(uid) ?? 0n;
    if (total === want && list.length === pool.shards) continue;
    for (let k = 0; k < pool.shards; k++) {
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: ShardEntity.key(uid, k),
          UpdateExpression: 'SET allocated = :n, epoch = :e, #t = :type, poolUid = :uid, #i = :k, lastChange = :now ADD seq :one',
          ExpressionAttributeNames: { '#t': 'type', '#i': 'index' },
          ExpressionAttributeValues: { ':n': k === 0 ? want : 0n, ':e': pool.epoch, ':type': 'shard', ':uid': uid, ':k': k, ':now': Date.now(), ':one': 1 },
        }),
      );
    }
    report.countersFixed++;
  }
  log(`repair: ${report.pools} pools, ${report.allocations} allocations; fixed ${report.chunksFixed} chunks, ${report.countersFixed} pool counters; claims +${report.claimsCreated} -${report.claimsDeleted}; MAC/FQDN/zone claims +${report.uniqueCreated} -${report.uniqueDeleted}${report.uniqueConflicts ? ` (${report.uniqueConflicts} wanted twice: the older allocation keeps it)` : ''}`);
  return report;
}
