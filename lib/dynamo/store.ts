/**
 * The Store on DynamoDB. Every change is one conditional write or one transaction;
 * nothing is locked in process, so any number of Lambdas may allocate at once.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  TransactWriteCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GSI_HOLDER, GSI_POOL_CHUNKS, TTL_ATTRIBUTE } from './table.js';
import { parseAddress, type Family } from '../core/ip.js';
import type { Allocation, CallContext, Holder, Pool } from '../core/model.js';
import type { AllocationCommit, BulkCommit, ChunkChange, ChunkState, CloudLimits, CommitOutcome, EnvironmentRecord, ReleaseCommit, ShardState, Store } from '../engine/store.js';
import { baseKey, chunkBaseOf, keys, offsetIn, parseBaseKey } from './keys.js';
import { retryPassing } from './retry.js';

type Item = Record<string, any>;
type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Released allocations stay as tombstones (history, stream old image) this long. */
const TOMBSTONE_SECONDS = 30 * 24 * 3600;

export function documentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: (s: string) => (Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s)) },
  });
}

// ---------- entities: item <-> domain ----------

/**
 * User-keyed maps (tags, metadata at any depth, environment slots) as the marshaller can take them.
 * @aws-sdk/util-dynamodb decides "plain object" by `value.constructor.name === 'Object'`, so an object
 * with its own `constructor` key ({"constructor": "x"}) is refused as a class instance, and it builds
 * maps by assignment. A `Map` is marshalled by its entries alone: every key is data. (`__proto__` is
 * refused at the edge, see checkNoReservedKey: it is lost by the SDK's wire serializer as well.)
 */
export function dynamoValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dynamoValue);
  if (v !== null && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return new Map(Object.keys(v).map((k) => [k, dynamoValue((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** An item whose attribute values are marshal-safe (the item itself stays a plain object of attributes). */
function dynamoItem(item: Item): Item {
  const out: Item = {};
  for (const k of Object.keys(item)) out[k] = dynamoValue(item[k]);
  return out;
}

const POOL_FIELDS = ['cloud', 'zone', 'name', 'uid', 'family', 'ranges', 'exclude', 'prefixLength', 'quarantineSeconds', 'dns', 'tags', 'metadata', 'size', 'epoch', 'shards', 'importing', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy', 'requestId'] as const;

export const PoolEntity = {
  toItem(p: Pool): Item {
    return dynamoItem({ ...keys.pool(p.cloud, p.zone, p.name), type: 'pool', ...p });
  },
  fromItem(i: Item): Pool {
    const out: Item = {};
    for (const f of POOL_FIELDS) if (i[f] !== undefined) out[f] = i[f];
    out.ranges ??= [];
    out.exclude ??= [];
    out.tags ??= {};
    out.metadata ??= {};
    return out as Pool;
  },
};

const ALLOCATION_FIELDS = ['cloud', 'zone', 'pool', 'address', 'cidr', 'prefixLength', 'family', 'vm', 'vip', 'name', 'mac', 'hostname', 'tags', 'metadata', 'allocatedAt', 'allocatedBy', 'requestId', 'updatedAt', 'updatedBy', 'version'] as const;

export const AllocationEntity = {
  toItem(a: Allocation, pool: Pool, value: bigint): Item {
    const holder: Holder = a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! };
    return dynamoItem({
      ...keys.allocation(a.cloud, a.family, value),
      type: 'allocation',
      state: 'allocated',
      poolUid: pool.uid,
      ...a,
      gsi1pk: keys.holderGsi(a.cloud, holder),
      gsi1sk: `${a.zone}#${a.pool}#${a.name}#${a.address}`,
    });
  },
  fromItem(i: Item): Allocation {
    const out: Item = {};
    for (const f of ALLOCATION_FIELDS) if (i[f] !== undefined) out[f] = i[f];
    out.tags ??= {};
    out.metadata ??= {};
    return out as Allocation;
  },
};

export const ChunkEntity = {
  fromItem(i: Item | undefined): ChunkState | undefined {
    if (!i) return undefined;
    const used = new Set<number>();
    const raw = i.used;
    if (raw instanceof Set) for (const v of raw) used.add(Number(v));
    const quarantine = new Map<number, number>();
    const blocks = new Map<number, string>();
    for (const [k, v] of Object.entries(i)) {
      if (k.startsWith('q_')) quarantine.set(parseInt(k.slice(2), 16), Number(v));
      else if (k.startsWith('b_')) blocks.set(parseInt(k.slice(2), 16), String(v));
    }
    return { used, quarantine, blocks, version: i.ver === undefined ? undefined : Number(i.ver) };
  },
};

/**
 * The allocation item's condition: the address is free in the whole cloud, i.e. never allocated, or
 * released and out of the quarantine its tombstone carries (set by whichever pool released it, so a
 * deleted pool's quarantine binds the next pool over the same space, in any zone).
 */
function allocationPut(item: Item, now: number): NonNullable<TxItem['Put']> {
  return {
    TableName: '',
    Item: item,
    ConditionExpression: 'attribute_not_exists(pk) OR (#st = :released AND (attribute_not_exists(#qu) OR #qu <= :now))',
    ExpressionAttributeNames: { '#st': 'state', '#qu': 'quarantineUntil' },
    ExpressionAttributeValues: { ':released': 'released', ':now': now },
  };
}

const qAttr = (o: number) => `q_${o.toString(16).padStart(2, '0')}`;
const bAttr = (o: number) => `b_${o.toString(16).padStart(2, '0')}`;

function cancellation(e: unknown): { Code?: string; Item?: Record<string, any> }[] | undefined {
  const err = e as { name?: string; CancellationReasons?: { Code?: string; Item?: Record<string, any> }[] };
  return err?.name === 'TransactionCanceledException' ? (err.CancellationReasons ?? []) : undefined;
}

function rawItem(item: Record<string, any> | undefined): Item | undefined {
  if (!item) return undefined;
  // The document client does not unmarshall cancellation reasons.
  const first = Object.values(item)[0];
  return first && typeof first === 'object' && ('S' in first || 'N' in first || 'M' in first || 'NS' in first || 'L' in first || 'BOOL' in first || 'NULL' in first || 'SS' in first)
    ? unmarshall(item as any, { wrapNumbers: (s: string) => (Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s)) })
    : item;
}

export interface DynamoStoreOptions {
  /**
   * Read a written item back (strongly consistent) before a write is acknowledged. DynamoDB Local
   * was seen to lose writes it had acknowledged 1-6 ms before a kill -9 (test/durability.test.ts);
   * the read-back closes that window. Real DynamoDB needs no such barrier: the local service sets it.
   */
  readAfterWrite?: boolean;
}

export class DynamoStore implements Store {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly table: string,
    readonly options: DynamoStoreOptions = {},
  ) {}

  /** The durability barrier of `readAfterWrite` (a no-op on real DynamoDB). */
  private async settled(key: { pk: string; sk: string }): Promise<void> {
    if (this.options.readAfterWrite) await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
  }

  // ---------- pools ----------

  async listClouds(): Promise<string[]> {
    const out = new Set<string>();
    let start: Item | undefined;
    do {
      const r = await this.doc.send(
        new ScanCommand({ TableName: this.table, FilterExpression: 'sk = :meta AND #t = :cloud', ProjectionExpression: 'cloud', ExpressionAttributeNames: { '#t': 'type' }, ExpressionAttributeValues: { ':meta': '#META', ':cloud': 'cloud' }, ExclusiveStartKey: start }),
      );
      for (const i of r.Items ?? []) if (typeof i.cloud === 'string') out.add(i.cloud);
      start = r.LastEvaluatedKey;
    } while (start);
    return [...out].sort();
  }

  async listPools(cloud: string): Promise<{ cloudVersion: number; pools: Pool[]; limits?: CloudLimits }> {
    let cloudVersion = 0;
    let limits: CloudLimits | undefined;
    const pools: Pool[] = [];
    for await (const i of this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.cloud(cloud).pk }, ConsistentRead: true })) {
      if (i.type === 'cloud') cloudVersion = Number(i.version);
      else if (i.type === 'pool') pools.push(PoolEntity.fromItem(i));
      else if (i.type === 'limits') limits = { zones: i.zones as CloudLimits['zones'] };
    }
    return { cloudVersion, pools, ...(limits ? { limits } : {}) };
  }

  async putLimits(cloud: string, limits: CloudLimits, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'> {
    const item = { ...keys.limits(cloud), type: 'limits', cloud, zones: limits.zones, updatedAt: new Date().toISOString(), updatedBy: by.principal, ...(by.requestId ? { requestId: by.requestId } : {}) };
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: this.table, Item: item } }, this.cloudFence(cloud, cloudVersion)] }));
      await this.settled(keys.limits(cloud));
      return 'ok';
    } catch (e) {
      if (!cancellation(e)) throw e;
      return 'raced';
    }
  }

  async getPool(cloud: string, zone: string, name: string): Promise<Pool | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.pool(cloud, zone, name), ConsistentRead: true }));
    return r.Item ? PoolEntity.fromItem(r.Item) : undefined;
  }

  private cloudFence(cloud: string, cloudVersion: number): TxItem {
    return {
      Update: {
        TableName: this.table,
        Key: keys.cloud(cloud),
        UpdateExpression: 'SET #v = :next, #t = :type, cloud = :cloud, changedAt = :now',
        ConditionExpression: cloudVersion === 0 ? 'attribute_not_exists(pk)' : '#v = :cur',
        ExpressionAttributeNames: { '#v': 'version', '#t': 'type' },
        ExpressionAttributeValues: { ':next': cloudVersion + 1, ':type': 'cloud', ':cloud': cloud, ':now': Date.now(), ...(cloudVersion === 0 ? {} : { ':cur': cloudVersion }) },
      },
    };
  }

  async createPool(pool: Pool, cloudVersion: number): Promise<'ok' | 'exists' | 'raced'> {
    const items: TxItem[] = [
      { Put: { TableName: this.table, Item: PoolEntity.toItem(pool), ConditionExpression: 'attribute_not_exists(pk)' } },
      this.cloudFence(pool.cloud, cloudVersion),
    ];
    for (let k = 0; k < pool.shards; k++) {
      items.push({ Put: { TableName: this.table, Item: { ...keys.shard(pool.uid, k), type: 'shard', poolUid: pool.uid, index: k, allocated: 0, seq: 0, epoch: pool.epoch } } });
    }
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      await this.settled(keys.pool(pool.cloud, pool.zone, pool.name));
      return 'ok';
    } catch (e) {
      const reasons = cancellation(e);
      if (!reasons) throw e;
      return reasons[0]?.Code === 'ConditionalCheckFailed' ? 'exists' : 'raced';
    }
  }

  private shardFences(pool: Pool, shards: ShardState[], nextEpoch: number | 'delete'): TxItem[] {
    return shards.map((s) =>
      nextEpoch === 'delete'
        ? { Delete: { TableName: this.table, Key: keys.shard(pool.uid, s.index), ConditionExpression: 'seq = :seq AND epoch = :e', ExpressionAttributeValues: { ':seq': s.seq, ':e': pool.epoch } } }
        : {
            Update: {
              TableName: this.table,
              Key: keys.shard(pool.uid, s.index),
              UpdateExpression: 'SET epoch = :next',
              ConditionExpression: 'seq = :seq AND epoch = :e',
              ExpressionAttributeValues: { ':seq': s.seq, ':e': pool.epoch, ':next': nextEpoch },
            },
          },
    );
  }

  async replacePoolTopology(prev: Pool, next: Pool, cloudVersion: number, shards: ShardState[]): Promise<'ok' | 'raced'> {
    return this.tx([
      { Put: { TableName: this.table, Item: PoolEntity.toItem(next), ConditionExpression: 'uid = :uid AND epoch = :e', ExpressionAttributeValues: { ':uid': prev.uid, ':e': prev.epoch } } },
      this.cloudFence(prev.cloud, cloudVersion),
      ...this.shardFences(prev, shards, next.epoch),
    ]);
  }

  async updatePoolAttributes(prev: Pool, next: Pool): Promise<'ok' | 'raced'> {
    return this.tx([
      { Put: { TableName: this.table, Item: PoolEntity.toItem(next), ConditionExpression: 'uid = :uid AND epoch = :e AND updatedAt = :u', ExpressionAttributeValues: { ':uid': prev.uid, ':e': prev.epoch, ':u': prev.updatedAt } } },
    ]);
  }

  async deletePool(pool: Pool, cloudVersion: number, shards: ShardState[], by: { principal: string; requestId?: string }): Promise<'ok' | 'raced'> {
    // A DeleteItem's stream record has only the old image: stamp who deletes first, so the
    // security log can name them; the delete then requires that very stamp.
    const at = new Date().toISOString();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.pool(pool.cloud, pool.zone, pool.name),
          UpdateExpression: 'SET deletedBy = :by, deletedAt = :at, deleteRequestId = :rid',
          ConditionExpression: 'uid = :uid AND epoch = :e',
          ExpressionAttributeValues: { ':by': by.principal, ':at': at, ':rid': by.requestId ?? null, ':uid': pool.uid, ':e': pool.epoch },
        }),
      );
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return 'raced';
      throw e;
    }
    return this.tx([
      { Delete: { TableName: this.table, Key: keys.pool(pool.cloud, pool.zone, pool.name), ConditionExpression: 'uid = :uid AND epoch = :e AND deletedAt = :at', ExpressionAttributeValues: { ':uid': pool.uid, ':e': pool.epoch, ':at': at } } },
      this.cloudFence(pool.cloud, cloudVersion),
      ...this.shardFences(pool, shards, 'delete'),
    ]);
  }

  async readShards(pool: Pool): Promise<ShardState[]> {
    const items = await this.batchGet(Array.from({ length: pool.shards }, (_, k) => keys.shard(pool.uid, k)));
    return items.map((i) => ({ index: Number(i.index), allocated: BigInt(i.allocated), seq: Number(i.seq), epoch: Number(i.epoch) })).sort((a, b) => a.index - b.index);
  }

  // ---------- chunks ----------

  async getChunk(pool: Pool, base: bigint): Promise<ChunkState | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.chunkMeta(pool.cloud, pool.family, base, pool.uid), ConsistentRead: true }));
    return ChunkEntity.fromItem(r.Item);
  }

  async getChunks(pool: Pool, bases: bigint[]): Promise<Map<bigint, ChunkState>> {
    const items = await this.batchGet(bases.map((b) => keys.chunkMeta(pool.cloud, pool.family, b, pool.uid)));
    const out = new Map<bigint, ChunkState>();
    for (const i of items) out.set(parseBaseKey(i.gsi2sk).base, ChunkEntity.fromItem(i)!);
    return out;
  }

  async *poolChunks(pool: Pool, from?: bigint, to?: bigint): AsyncIterable<bigint> {
    const g = GSI_POOL_CHUNKS;
    const lo = baseKey(pool.family, from ?? 0n);
    const hi = to === undefined ? `${pool.family}:~` : baseKey(pool.family, to);
    const items = this.queryAll({
      IndexName: g.name,
      KeyConditionExpression: '#p = :p AND #s BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#p': g.partitionKey, '#s': g.sortKey },
      ExpressionAttributeValues: { ':p': keys.poolChunksGsi(pool.uid, pool.family, 0n).gsi2pk, ':lo': lo, ':hi': hi },
    });
    for await (const i of items) yield parseBaseKey(i[g.sortKey]).base;
  }

  private chunkUpdate(pool: Pool, ch: ChunkChange, mode: 'allocate' | 'release', quarantineUntil = 0): TxItem {
    const names: Record<string, string> = { '#ver': 'ver' };
    const values: Record<string, unknown> = { ':one': 1 };
    const sets: string[] = [];
    const removes: string[] = [];
    const adds: string[] = ['#ver :one'];
    const deletes: string[] = [];
    const conds: string[] = [];
    const gsi = keys.poolChunksGsi(pool.uid, pool.family, ch.base);
    sets.push('gsi2pk = :g2pk', 'gsi2sk = :g2sk', '#type = :chunk', 'poolUid = :uid', 'cloud = :cloud');
    Object.assign(names, { '#type': 'type' });
    Object.assign(values, { ':g2pk': gsi.gsi2pk, ':g2sk': gsi.gsi2sk, ':chunk': 'chunk', ':uid': pool.uid, ':cloud': pool.cloud });
    const fresh = ch.offsets.filter((o) => !ch.reuse?.has(o));
    if (mode === 'allocate') {
      if (fresh.length > 0) {
        values[':oset'] = new Set(fresh);
        adds.push('#used :oset');
      }
      if (ch.expectVersion === null) conds.push('attribute_not_exists(#ver)');
      else if (ch.expectVersion !== undefined) {
        conds.push('#ver = :ev');
        values[':ev'] = ch.expectVersion;
      } else {
        fresh.forEach((o, i) => {
          conds.push(`NOT contains(#used, :o${i})`);
          values[`:o${i}`] = o;
        });
      }
      let i = 0;
      for (const [o, until] of ch.reuse ?? []) {
        const n = `#q${i}`;
        names[n] = qAttr(o);
        values[`:q${i}`] = until;
        if (ch.expectVersion === undefined) conds.push(`${n} = :q${i}`);
        removes.push(n);
        i++;
      }
      if (ch.blockCidr !== undefined) {
        names['#blk'] = bAttr(ch.offsets[0]!);
        values[':blk'] = ch.blockCidr;
        sets.push('#blk = :blk');
      }
    } else {
      if (quarantineUntil > 0 && ch.offsets.length === 1) {
        names['#q'] = qAttr(ch.offsets[0]!);
        values[':until'] = quarantineUntil;
        sets.push('#q = :until');
      } else {
        values[':oset'] = new Set(ch.offsets);
        deletes.push('#used :oset');
      }
      if (ch.blockCidr !== undefined) {
        names['#blk'] = bAttr(ch.offsets[0]!);
        removes.push('#blk');
      }
    }
    if ([...adds, ...deletes, ...conds].some((x) => x.includes('#used'))) names['#used'] = 'used';
    const expr = [`SET ${sets.join(', ')}`, `ADD ${adds.join(', ')}`, removes.length ? `REMOVE ${removes.join(', ')}` : '', deletes.length ? `DELETE ${deletes.join(', ')}` : ''].filter(Boolean).join(' ');
    return {
      Update: {
        TableName: this.table,
        Key: keys.chunkMeta(pool.cloud, pool.family, ch.base, pool.uid),
        UpdateExpression: expr,
        ConditionExpression: conds.length ? conds.join(' AND ') : undefined,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  // ---------- allocations ----------

  async commitAllocation(c: AllocationCommit): Promise<CommitOutcome> {
    const { pool, allocation: a } = c;
    const now = c.now ?? Date.now();
    const value = c.chunks[0]!.base + BigInt(c.chunks[0]!.offsets[0]!);
    const holder: Holder = a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! };
    const items: TxItem[] = [
      ...c.chunks.map((ch) => this.chunkUpdate(pool, ch, 'allocate')),
      { Put: { ...allocationPut(AllocationEntity.toItem(a, pool, value), now), TableName: this.table, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
      {
        Put: {
          TableName: this.table,
          Item: { ...keys.held(pool.uid, holder, a.name), type: 'held', cloud: a.cloud, zone: a.zone, pool: a.pool, poolUid: pool.uid, address: a.address, family: a.family },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: keys.shard(pool.uid, c.shard),
          UpdateExpression: 'ADD allocated :n, seq :one SET lastChange = :now',
          ConditionExpression: 'epoch = :e',
          ExpressionAttributeValues: { ':n': c.addressCount, ':one': 1, ':e': pool.epoch, ':now': Date.now() },
        },
      },
    ];
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      await this.settled(keys.allocation(a.cloud, a.family, value));
      return { ok: true };
    } catch (e) {
      const reasons = cancellation(e);
      if (!reasons) throw e;
      const n = c.chunks.length;
      const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
      if (failed(n + 1)) {
        const held = rawItem(reasons[n + 1]?.Item);
        return { ok: false, reason: 'holder', existing: held ? await this.getAllocationAt(held.cloud, held.family, parseAddress(held.address).value) : undefined };
      }
      if (failed(n + 2)) return { ok: false, reason: 'epoch' };
      for (let i = 0; i < n; i++) if (failed(i)) return { ok: false, reason: 'chunk', base: c.chunks[i]!.base, state: ChunkEntity.fromItem(rawItem(reasons[i]?.Item)) };
      if (failed(n)) {
        const old = rawItem(reasons[n]?.Item);
        const until = Number(old?.quarantineUntil);
        if (old?.state === 'released' && until > now) return { ok: false, reason: 'quarantined', value, until };
        return { ok: false, reason: 'taken' };
      }
      return { ok: false, reason: 'contention' };
    }
  }

  async commitBulk(c: BulkCommit): Promise<'ok' | 'raced'> {
    const { pool } = c;
    const items: TxItem[] = [this.chunkUpdate(pool, c.chunk, 'allocate')];
    c.allocations.forEach((a, i) => {
      const holder: Holder = a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! };
      items.push(
        { Put: { ...allocationPut(AllocationEntity.toItem(a, pool, c.chunk.base + BigInt(c.chunk.offsets[i]!)), c.now ?? Date.now()), TableName: this.table } },
        { Put: { TableName: this.table, Item: { ...keys.held(pool.uid, holder, a.name), type: 'held', cloud: a.cloud, zone: a.zone, pool: a.pool, poolUid: pool.uid, address: a.address, family: a.family }, ConditionExpression: 'attribute_not_exists(pk)' } },
      );
    });
    items.push({
      Update: {
        TableName: this.table,
        Key: keys.shard(pool.uid, c.shard),
        UpdateExpression: 'ADD allocated :n, seq :one SET lastChange = :now',
        ConditionExpression: 'epoch = :e',
        ExpressionAttributeValues: { ':n': c.allocations.length, ':one': 1, ':e': pool.epoch, ':now': Date.now() },
      },
    });
    return this.tx(items);
  }

  async importChunk(pool: Pool, base: bigint, offsets: number[], allocations: Allocation[]): Promise<void> {
    const gsi = keys.poolChunksGsi(pool.uid, pool.family, base);
    const puts: Item[] = [{ ...keys.chunkMeta(pool.cloud, pool.family, base, pool.uid), ...gsi, type: 'chunk', poolUid: pool.uid, cloud: pool.cloud, used: new Set(offsets), ver: 1 }];
    allocations.forEach((a, i) => {
      const holder: Holder = a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! };
      puts.push(AllocationEntity.toItem(a, pool, base + BigInt(offsets[i]!)));
      puts.push({ ...keys.held(pool.uid, holder, a.name), type: 'held', cloud: a.cloud, zone: a.zone, pool: a.pool, poolUid: pool.uid, address: a.address, family: a.family });
    });
    // Transactions of 100 puts, not batch writes: DynamoDB Local commits (and syncs) a batch write per
    // item but a transaction once, so an import loads 1.8x faster there; each group of 100 is all or nothing.
    // Nothing else writes these items while the pool is fenced: a conflict or a 5xx is only retried.
    const groups: Item[][] = [];
    for (let i = 0; i < puts.length; i += 100) groups.push(puts.slice(i, i + 100));
    await Promise.all(groups.map((group) => retryPassing(() => this.doc.send(new TransactWriteCommand({ TransactItems: group.map((Item) => ({ Put: { TableName: this.table, Item } })) })))));
  }

  async finishImport(prev: Pool, next: Pool, shards: ShardState[], counts: bigint[]): Promise<'ok' | 'raced'> {
    return this.tx([
      { Put: { TableName: this.table, Item: PoolEntity.toItem(next), ConditionExpression: 'uid = :uid AND epoch = :e', ExpressionAttributeValues: { ':uid': prev.uid, ':e': prev.epoch } } },
      ...shards.map((s, i) => ({
        Update: {
          TableName: this.table,
          Key: keys.shard(prev.uid, s.index),
          UpdateExpression: 'SET epoch = :next, allocated = :n, lastChange = :now ADD seq :one',
          ConditionExpression: 'seq = :seq AND epoch = :e',
          ExpressionAttributeValues: { ':next': next.epoch, ':n': counts[i] ?? 0n, ':now': Date.now(), ':one': 1, ':seq': s.seq, ':e': prev.epoch },
        },
      })),
    ]);
  }

  async commitRelease(c: ReleaseCommit): Promise<'ok' | 'raced'> {
    const { pool, allocation: a } = c;
    const holder: Holder = a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! };
    const value = c.chunks[0]!.base + BigInt(c.chunks[0]!.offsets[0]!);
    return this.tx([
      {
        Update: {
          TableName: this.table,
          Key: keys.allocation(a.cloud, a.family, value),
          UpdateExpression: `SET #st = :released, releasedAt = :at, releasedBy = :by, releaseRequestId = :rid, #ttl = :ttl${c.quarantineUntil > 0 ? ', quarantineUntil = :qu' : ''} ADD version :one REMOVE gsi1pk, gsi1sk`,
          ConditionExpression: '#st = :allocated AND version = :v',
          ExpressionAttributeNames: { '#st': 'state', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':released': 'released',
            ':allocated': 'allocated',
            ':at': c.releasedAt,
            ':by': c.releasedBy,
            ':rid': c.requestId ?? null,
            // The tombstone outlives its quarantine (up to a year) by a day: expiry must not end it early.
            ':ttl': Math.max(Math.floor(Date.now() / 1000) + TOMBSTONE_SECONDS, Math.ceil(c.quarantineUntil / 1000) + 24 * 3600),
            ...(c.quarantineUntil > 0 ? { ':qu': c.quarantineUntil } : {}),
            ':one': 1,
            ':v': a.version,
          },
        },
      },
      { Delete: { TableName: this.table, Key: keys.held(pool.uid, holder, a.name), ConditionExpression: 'address = :addr', ExpressionAttributeValues: { ':addr': a.address } } },
      ...c.chunks.map((ch) => this.chunkUpdate(pool, ch, 'release', c.quarantineUntil)),
      {
        Update: {
          TableName: this.table,
          Key: keys.shard(pool.uid, c.shard),
          UpdateExpression: 'ADD allocated :n, seq :one SET lastChange = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':n': -c.addressCount, ':one': 1, ':now': Date.now() },
        },
      },
    ]);
  }

  async getAllocationAt(cloud: string, family: Family, value: bigint): Promise<Allocation | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.allocation(cloud, family, value), ConsistentRead: true }));
    return r.Item && r.Item.state === 'allocated' ? AllocationEntity.fromItem(r.Item) : undefined;
  }

  async blocksCovering(cloud: string, family: Family, value: bigint): Promise<string[]> {
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :meta)',
        ExpressionAttributeValues: { ':pk': keys.chunkPk(cloud, family, chunkBaseOf(value)), ':meta': 'META#' },
        ConsistentRead: true,
      }),
    );
    return (r.Items ?? []).flatMap((i) => [...(ChunkEntity.fromItem(i)?.blocks.values() ?? [])]);
  }

  async getHeld(pool: Pool, holder: Holder, name: string): Promise<Allocation | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.held(pool.uid, holder, name), ConsistentRead: true }));
    if (!r.Item) return undefined;
    return this.getAllocationAt(pool.cloud, pool.family, parseAddress(r.Item.address).value);
  }

  async chunkAllocations(pool: Pool, base: bigint, fromOffset: number): Promise<Allocation[]> {
    const out: Allocation[] = [];
    const items = this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      FilterExpression: '#st = :allocated AND poolUid = :uid',
      ExpressionAttributeNames: { '#st': 'state' },
      ExpressionAttributeValues: { ':pk': keys.chunkPk(pool.cloud, pool.family, base), ':lo': keys.allocationSk(fromOffset), ':hi': keys.allocationSk(255), ':allocated': 'allocated', ':uid': pool.uid },
      ConsistentRead: true,
    });
    for await (const i of items) out.push(AllocationEntity.fromItem(i));
    return out;
  }

  async byHolder(cloud: string, holder: Holder): Promise<Allocation[]> {
    const out: Allocation[] = [];
    const items = this.queryAll({
      IndexName: GSI_HOLDER.name,
      KeyConditionExpression: '#p = :p',
      ExpressionAttributeNames: { '#p': GSI_HOLDER.partitionKey },
      ExpressionAttributeValues: { ':p': keys.holderGsi(cloud, holder) },
    });
    for await (const i of items) if (i.state === 'allocated') out.push(AllocationEntity.fromItem(i));
    return out;
  }

  async updateAllocation(pool: Pool, prev: Allocation, next: Allocation): Promise<'ok' | 'raced'> {
    const value = parseAddress(prev.address).value;
    const names: Record<string, string> = { '#st': 'state', '#v': 'version' };
    const values: Record<string, unknown> = { ':allocated': 'allocated', ':v': prev.version, ':next': next.version };
    const sets = ['#v = :next'];
    const removes: string[] = [];
    for (const f of ['mac', 'hostname', 'tags', 'metadata', 'updatedAt', 'updatedBy', 'requestId'] as const) {
      names[`#${f}`] = f;
      if (next[f] === undefined) removes.push(`#${f}`);
      else {
        values[`:${f}`] = dynamoValue(next[f]);
        sets.push(`#${f} = :${f}`);
      }
    }
    return this.tx([
      {
        Update: {
          TableName: this.table,
          Key: keys.allocation(prev.cloud, prev.family, value),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: '#st = :allocated AND #v = :v',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: keys.shard(pool.uid, Math.floor(Math.random() * pool.shards)),
          UpdateExpression: 'SET lastChange = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': Date.now() },
        },
      },
    ]);
  }

  async getEnvironment(cloud: string, name: string): Promise<EnvironmentRecord | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.environment(cloud, name), ConsistentRead: true }));
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, type: _t, ...rest } = r.Item;
    return rest as EnvironmentRecord;
  }

  async putEnvironment(rec: EnvironmentRecord, expectToken: string | null): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: dynamoItem({ ...keys.environment(rec.cloud, rec.name), type: 'environment', ...rec }),
          ConditionExpression: expectToken === null ? 'attribute_not_exists(pk)' : '#tok = :tok',
          ...(expectToken === null ? {} : { ExpressionAttributeNames: { '#tok': 'token' }, ExpressionAttributeValues: { ':tok': expectToken } }),
        }),
      );
      await this.settled(keys.environment(rec.cloud, rec.name));
      return true;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  async deleteEnvironment(cloud: string, name: string, expectToken: string): Promise<boolean> {
    try {
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key: keys.environment(cloud, name), ConditionExpression: '#tok = :tok', ExpressionAttributeNames: { '#tok': 'token' }, ExpressionAttributeValues: { ':tok': expectToken } }));
      return true;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  async lastChange(cloud: string, pools: Pool[]): Promise<number> {
    const items = await this.batchGet([keys.cloud(cloud), ...pools.flatMap((p) => Array.from({ length: p.shards }, (_, k) => keys.shard(p.uid, k)))]);
    return items.reduce((m, i) => Math.max(m, Number(i.lastChange ?? 0), Number(i.changedAt ?? 0)), 0);
  }

  // ---------- helpers ----------

  /** Every item a Query matches, page by page. */
  private async *queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): AsyncIterable<Item> {
    let start: Item | undefined;
    do {
      const r = await this.doc.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start }));
      yield* r.Items ?? [];
      start = r.LastEvaluatedKey;
    } while (start);
  }

  private async tx(items: TxItem[]): Promise<'ok' | 'raced'> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      const first = items[0]!;
      const key = (first.Put?.Item ?? first.Update?.Key ?? first.Delete?.Key ?? first.ConditionCheck?.Key) as { pk: string; sk: string } | undefined;
      if (key) await this.settled({ pk: key.pk, sk: key.sk });
      return 'ok';
    } catch (e) {
      if (cancellation(e)) return 'raced';
      throw e;
    }
  }

  private async batchGet(keyList: { pk: string; sk: string }[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keyList.length; i += 100) {
      let pending: { pk: string; sk: string }[] = keyList.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const r = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }));
        out.push(...(r.Responses?.[this.table] ?? []));
        pending = (r.UnprocessedKeys?.[this.table]?.Keys as { pk: string; sk: string }[] | undefined) ?? [];
        if (pending.length > 0) await new Promise((res) => setTimeout(res, Math.min(1000, 20 * 2 ** attempt)));
      }
    }
    return out;
  }
}


