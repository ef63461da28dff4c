/**
 * The Store on DynamoDB. Every change is one conditional write or one transaction;
 * nothing is locked in process, so any number of Lambdas may allocate at once.
 *
 * About 530 lines, one class, on purpose: it is the one implementation of the one Store port, and its
 * transactions cross aggregates (an allocation writes chunk, allocation, claim and shard items; a
 * topology change fences the cloud and every shard), so a split by aggregate would cut those
 * transactions across files. Item shapes, keys and update expressions live in entities/ and keys.ts;
 * what remains here is the access patterns and their cancellation outcomes.
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
import type { DnsSettings, StoredDnsSettings } from '../core/dns.js';
import { spaceOf, type Allocation, type CallContext, type Holder, type Pool } from '../core/model.js';
import { slotAddresses, slotOf } from '../core/chunk.js';
import type { Network } from '../core/network.js';
import type { AllocationCommit, BulkCommit, ChunkChange, ChunkState, ClaimConflict, ClaimOwner, CloudLimits, CommitOutcome, EnvironmentRecord, ReleaseCommit, ShardState, Store, UniqueClaim } from '../engine/store.js';
import { claimRef, claimText } from '../core/uniqueness.js';
import { AllocationEntity, ChunkEntity, ClaimEntity, CloudEntity, DnsSettingsEntity, dynamoValue, EnvironmentEntity, LimitsEntity, NetworkEntity, PoolEntity, ShardEntity, UniqueEntity, type Item } from './entities/index.js';
import { baseKey, chunkBaseOf, keys, parseBaseKey, PREFIX } from './keys.js';
import { retryPassing } from './retry.js';
import { ReadBarrier } from './barrier.js';
import { Lanes } from '../core/lanes.js';

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Reasons = { Code?: string; Item?: Record<string, any> }[];
type ItemKey = { pk: string; sk: string };
const keyId = (k: ItemKey) => `${k.pk}\n${k.sk}`;
/** Single-item reads in flight at once before concurrent ones are grouped (DynamoStore.reads). */
const READ_SLOTS = 2;

/**
 * `client` without the SDK's logger middleware, for a client built without a logger: the middleware
 * still walks every input and output (its sensitive-data filter) for a logger that drops them, 1-6 %
 * of the local service's CPU under load (bench:profile; most on the stream reader's big answers).
 */
export function withoutSdkLogger<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/** The document client the store speaks through, on a new client from `config` or on `client` (e.g. a traced one). */
export function documentClient(config: DynamoDBClientConfig | DynamoDBClient = {}): DynamoDBDocumentClient {
  const client = config instanceof DynamoDBClient ? config : new DynamoDBClient(config);
  if (!(config instanceof DynamoDBClient) && !config.logger) withoutSdkLogger(client);
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: (s: string) => (Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s)) },
  });
}

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
   * Read back (strongly consistent) before a write is acknowledged. DynamoDB Local was seen to lose
   * transactions it had acknowledged 1-6 ms before a kill -9 (test/durability.test.ts): it commits them
   * after answering, and a later read waits for that commit. Concurrent writes share one read
   * (lib/dynamo/barrier.ts). Real DynamoDB needs no such barrier: the local service sets it.
   */
  readAfterWrite?: boolean;
}

export class DynamoStore implements Store {
  /**
   * Strongly consistent reads of one item on the request path (an allocation by address, the barrier's
   * read), grouped when concurrent: while READ_SLOTS are in flight, the reads that arrive wait and go
   * together in one BatchGetItem, sent after each of them arrived, so each still sees every write
   * acknowledged before it (as a GetItem sent then would). Alone, a read is a GetItem as before.
   */
  private readonly reads = new Lanes<ItemKey, Item | undefined>({
    slots: READ_SLOTS,
    max: 100,
    identity: keyId,
    alone: async (Key) => (await this.doc.send(new GetCommand({ TableName: this.table, Key, ConsistentRead: true }))).Item,
    together: async (group) => {
      const found = new Map((await this.batchGet(group.map((w) => w.item))).map((i) => [keyId(i as ItemKey), i]));
      for (const w of group) w.resolve(found.get(keyId(w.item)));
    },
  });

  /** One read serves all the writes acknowledged before it was sent (lib/dynamo/barrier.ts says why). */
  private readonly barrier = new ReadBarrier<ItemKey>((key) => this.reads.run('', key));

  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly table: string,
    readonly options: DynamoStoreOptions = {},
  ) {}

  /** The durability barrier of `readAfterWrite` (a no-op on real DynamoDB): `key` was written, and is read back unless a shared read covers it. */
  private async settled(key: { pk: string; sk: string }): Promise<void> {
    if (this.options.readAfterWrite) await this.barrier.pass(key);
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

  async listPools(cloud: string): Promise<{ cloudVersion: number; pools: Pool[]; networks: Network[]; limits?: CloudLimits }> {
    let cloudVersion = 0;
    let limits: CloudLimits | undefined;
    const pools: Pool[] = [];
    const networks: Network[] = [];
    for await (const i of this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.cloud(cloud).pk }, ConsistentRead: true })) {
      if (i.type === 'cloud') cloudVersion = CloudEntity.fromItem(i).version;
      else if (i.type === 'pool') pools.push(PoolEntity.fromItem(i));
      else if (i.type === 'network') networks.push(NetworkEntity.fromItem(i));
      else if (i.type === 'limits') limits = LimitsEntity.fromItem(i);
    }
    return { cloudVersion, pools, networks, ...(limits ? { limits } : {}) };
  }

  async putLimits(cloud: string, limits: CloudLimits, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'> {
    const item = LimitsEntity.toItem(cloud, limits, by);
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: this.table, Item: item } }, this.cloudFence(cloud, cloudVersion)] }));
      await this.settled(keys.limits(cloud));
      return 'ok';
    } catch (e) {
      if (!cancellation(e)) throw e;
      return 'raced';
    }
  }

  async getDnsSettings(cloud: string): Promise<StoredDnsSettings | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.dnsSettings(cloud), ConsistentRead: true }));
    return r.Item?.type === DnsSettingsEntity.type ? DnsSettingsEntity.fromItem(r.Item) : undefined;
  }

  async putDnsSettings(cloud: string, settings: DnsSettings, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'> {
    return this.tx([{ Put: { TableName: this.table, Item: DnsSettingsEntity.toItem(cloud, settings, by) } }, this.cloudFence(cloud, cloudVersion)]);
  }

  async getPool(cloud: string, zone: string, name: string): Promise<Pool | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.pool(cloud, zone, name), ConsistentRead: true }));
    return r.Item ? PoolEntity.fromItem(r.Item) : undefined;
  }

  private cloudFence(cloud: string, cloudVersion: number): TxItem {
    return { Update: { TableName: this.table, ...CloudEntity.fence(cloud, cloudVersion) } };
  }

  async createPool(pool: Pool, cloudVersion: number): Promise<'ok' | 'exists' | 'raced'> {
    const items: TxItem[] = [
      { Put: { TableName: this.table, Item: PoolEntity.toItem(pool), ConditionExpression: 'attribute_not_exists(pk)' } },
      this.cloudFence(pool.cloud, cloudVersion),
    ];
    for (let k = 0; k < pool.shards; k++) {
      items.push({ Put: { TableName: this.table, Item: ShardEntity.toItem(pool.uid, k, pool.epoch) } });
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

  async updatePoolAttributes(prev: Pool, next: Pool, cloudVersion?: number): Promise<'ok' | 'raced'> {
    return this.tx([
      { Put: { TableName: this.table, Item: PoolEntity.toItem(next), ConditionExpression: 'uid = :uid AND epoch = :e AND updatedAt = :u', ExpressionAttributeValues: { ':uid': prev.uid, ':e': prev.epoch, ':u': prev.updatedAt } } },
      ...(cloudVersion === undefined ? [] : [this.cloudFence(prev.cloud, cloudVersion)]),
    ]);
  }

  async deletePool(pool: Pool, cloudVersion: number, shards: ShardState[], by: CallContext): Promise<'ok' | 'raced'> {
    const at = await this.stampDeletion(keys.pool(pool.cloud, pool.zone, pool.name), pool.uid, by, pool.epoch);
    if (!at) return 'raced';
    return this.tx([
      { Delete: { TableName: this.table, Key: keys.pool(pool.cloud, pool.zone, pool.name), ConditionExpression: 'uid = :uid AND epoch = :e AND deletedAt = :at', ExpressionAttributeValues: { ':uid': pool.uid, ':e': pool.epoch, ':at': at } } },
      this.cloudFence(pool.cloud, cloudVersion),
      ...this.shardFences(pool, shards, 'delete'),
    ]);
  }

  // ---------- networks ----------

  async createNetwork(network: Network, cloudVersion: number): Promise<'ok' | 'exists' | 'raced'> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName: this.table, Item: NetworkEntity.toItem(network), ConditionExpression: 'attribute_not_exists(pk)' } }, this.cloudFence(network.cloud, cloudVersion)],
        }),
      );
      await this.settled(NetworkEntity.key(network));
      return 'ok';
    } catch (e) {
      const reasons = cancellation(e);
      if (!reasons) throw e;
      return reasons[0]?.Code === 'ConditionalCheckFailed' ? 'exists' : 'raced';
    }
  }

  async updateNetwork(prev: Network, next: Network, cloudVersion: number): Promise<'ok' | 'raced'> {
    return this.tx([
      { Put: { TableName: this.table, Item: NetworkEntity.toItem(next), ConditionExpression: 'uid = :uid AND updatedAt = :u', ExpressionAttributeValues: { ':uid': prev.uid, ':u': prev.updatedAt } } },
      this.cloudFence(prev.cloud, cloudVersion),
    ]);
  }

  async deleteNetwork(network: Network, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'> {
    const key = NetworkEntity.key(network);
    const at = await this.stampDeletion(key, network.uid, by);
    if (!at) return 'raced';
    return this.tx([
      { Delete: { TableName: this.table, Key: key, ConditionExpression: 'uid = :uid AND deletedAt = :at', ExpressionAttributeValues: { ':uid': network.uid, ':at': at } } },
      this.cloudFence(network.cloud, cloudVersion),
    ]);
  }

  /**
   * A DeleteItem's stream record has only the old image: the item is stamped with who deletes it first,
   * so the security log can name them; the delete then requires that very stamp. Undefined: the item changed.
   */
  private async stampDeletion(key: { pk: string; sk: string }, uid: string, by: CallContext, epoch?: number): Promise<string | undefined> {
    const at = new Date().toISOString();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET deletedBy = :by, deletedAt = :at, deleteRequestId = :rid',
          ConditionExpression: `uid = :uid${epoch === undefined ? '' : ' AND epoch = :e'}`,
          ExpressionAttributeValues: { ':by': by.principal, ':at': at, ':rid': by.requestId ?? null, ':uid': uid, ...(epoch === undefined ? {} : { ':e': epoch }) },
        }),
      );
      return at;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw e;
    }
  }

  async readShards(pool: Pool): Promise<ShardState[]> {
    const items = await this.batchGet(Array.from({ length: pool.shards }, (_, k) => keys.shard(pool.uid, k)));
    return items.map(ShardEntity.fromItem).sort((a, b) => a.index - b.index);
  }

  // ---------- chunks ----------

  async getChunk(pool: Pool, base: bigint): Promise<ChunkState | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: ChunkEntity.key(pool, base), ConsistentRead: true }));
    return ChunkEntity.fromItem(r.Item);
  }

  async getChunks(pool: Pool, bases: bigint[]): Promise<Map<bigint, ChunkState>> {
    const items = await this.batchGet(bases.map((b) => ChunkEntity.key(pool, b)));
    const out = new Map<bigint, ChunkState>();
    for (const i of items) out.set(parseBaseKey(i.gsi2sk).base, ChunkEntity.fromItem(i)!);
    return out;
  }

  async *poolChunks(pool: Pool, from?: bigint, to?: bigint): AsyncIterable<bigint> {
    const g = GSI_POOL_CHUNKS;
    const { slot } = spaceOf(pool);
    const lo = baseKey(pool.family, from ?? 0n, slot);
    const hi = to === undefined ? `${baseKey(pool.family, 0n, slot).split(':')[0]}:~` : baseKey(pool.family, to, slot);
    const items = this.queryAll({
      IndexName: g.name,
      KeyConditionExpression: '#p = :p AND #s BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#p': g.partitionKey, '#s': g.sortKey },
      ExpressionAttributeValues: { ':p': keys.poolChunksGsi(pool.uid, pool.family, 0n).gsi2pk, ':lo': lo, ':hi': hi },
    });
    for await (const i of items) yield parseBaseKey(i[g.sortKey]).base;
  }

  private chunkUpdate(pool: Pool, ch: ChunkChange, mode: 'allocate' | 'release', quarantineUntil = 0): TxItem {
    return { Update: { TableName: this.table, ...ChunkEntity.update(pool, ch, mode, quarantineUntil) } };
  }

  // ---------- allocations ----------

  async commitAllocation(c: AllocationCommit): Promise<CommitOutcome> {
    const { pool, allocation: a } = c;
    const now = c.now ?? Date.now();
    const value = c.chunks[0]!.base + BigInt(c.chunks[0]!.offsets[0]!);
    const items: TxItem[] = [
      ...c.chunks.map((ch) => this.chunkUpdate(pool, ch, 'allocate')),
      { Put: { TableName: this.table, Item: AllocationEntity.toItem(a, pool, value), ...AllocationEntity.freeCondition(now), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
      {
        Put: {
          TableName: this.table,
          Item: ClaimEntity.toItem(a, pool.uid),
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
      ...this.claimPuts(c.claims ?? [], a, pool),
    ];
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      await this.settled(AllocationEntity.key(a.cloud, a.family, value, spaceOf(pool).slot));
      return { ok: true };
    } catch (e) {
      const reasons = cancellation(e);
      if (!reasons) throw e;
      const n = c.chunks.length;
      const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
      if (failed(n + 1)) {
        const raw = rawItem(reasons[n + 1]?.Item);
        const held = raw ? ClaimEntity.fromItem(raw) : undefined;
        return { ok: false, reason: 'holder', existing: held ? await this.getAllocationAt(held.cloud, held.family, parseAddress(held.address).value, spaceOf(pool).slot) : undefined };
      }
      const claim = this.claimConflict(reasons, n + 3, c.claims ?? []);
      if (claim) return claim;
      if (failed(n + 2)) return { ok: false, reason: 'epoch' };
      for (let i = 0; i < n; i++) if (failed(i)) return { ok: false, reason: 'chunk', base: c.chunks[i]!.base, state: ChunkEntity.fromItem(rawItem(reasons[i]?.Item)) };
      if (failed(n)) {
        const until = AllocationEntity.quarantinedUntil(rawItem(reasons[n]?.Item), now);
        if (until !== undefined) return { ok: false, reason: 'quarantined', value, until };
        return { ok: false, reason: 'taken' };
      }
      return { ok: false, reason: 'contention' };
    }
  }

  async commitBulk(c: BulkCommit): Promise<'ok' | 'raced'> {
    const { pool } = c;
    const items: TxItem[] = [this.chunkUpdate(pool, c.chunk, 'allocate')];
    c.allocations.forEach((a, i) => {
      items.push(
        { Put: { TableName: this.table, Item: AllocationEntity.toItem(a, pool, c.chunk.base + BigInt(c.chunk.offsets[i]!)), ...AllocationEntity.freeCondition(c.now ?? Date.now()) } },
        { Put: { TableName: this.table, Item: ClaimEntity.toItem(a, pool.uid), ConditionExpression: 'attribute_not_exists(pk)' } },
        ...this.claimPuts(c.claims?.[i] ?? [], a, pool),
      );
    });
    items.push({
      Update: {
        TableName: this.table,
        Key: keys.shard(pool.uid, c.shard),
        UpdateExpression: 'ADD allocated :n, seq :one SET lastChange = :now',
        ConditionExpression: 'epoch = :e',
        ExpressionAttributeValues: { ':n': BigInt(c.allocations.length) * slotAddresses(spaceOf(pool)), ':one': 1, ':e': pool.epoch, ':now': Date.now() },
      },
    });
    return this.tx(items);
  }

  async importChunk(pool: Pool, base: bigint, offsets: number[], allocations: Allocation[], claims: UniqueClaim[][] = []): Promise<{ ok: true } | ClaimConflict> {
    const puts: { put: TxItem; claim?: UniqueClaim }[] = [{ put: { Put: { TableName: this.table, Item: ChunkEntity.toItem(pool, base, { used: offsets, version: 1 }) } } }];
    allocations.forEach((a, i) => {
      puts.push({ put: { Put: { TableName: this.table, Item: AllocationEntity.toItem(a, pool, base + BigInt(offsets[i]!)) } } });
      puts.push({ put: { Put: { TableName: this.table, Item: ClaimEntity.toItem(a, pool.uid) } } });
      // A uniqueness claim may be held in its network or domain by another pool's allocation: put only
      // if free or already this allocation's (a repeated group), so a repeat stays harmless.
      for (const c of claims[i] ?? []) puts.push({ put: { Put: { TableName: this.table, Item: UniqueEntity.toItem(c, a, pool.uid), ...UniqueEntity.mine(claimRef(pool.uid, a)) } }, claim: c });
    });
    // Transactions of 100 puts, not batch writes: DynamoDB Local commits (and syncs) a batch write per
    // item but a transaction once, so an import loads 1.8x faster there; each group of 100 is all or nothing.
    // Nothing else writes the pool's items while it is fenced: a conflict or a 5xx is only retried.
    const groups: (typeof puts)[] = [];
    for (let i = 0; i < puts.length; i += 100) groups.push(puts.slice(i, i + 100));
    let conflict: ClaimConflict | undefined;
    await Promise.all(
      groups.map((group) =>
        retryPassing(() => this.doc.send(new TransactWriteCommand({ TransactItems: group.map((g) => g.put) }))).catch((e) => {
          const reasons = cancellation(e);
          const found = reasons && this.claimConflict(reasons, 0, group.map((g) => g.claim));
          if (!found) throw e;
          conflict ??= found;
        }),
      ),
    );
    return conflict ?? { ok: true };
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
    return this.commitReleases([c]);
  }

  async commitReleases(group: ReleaseCommit[]): Promise<'ok' | 'raced'> {
    const { pool, quarantineUntil } = group[0]!;
    // One update per chunk item: a transaction may not name an item twice.
    const chunks = new Map<bigint, ChunkChange>();
    for (const c of group) {
      if (c.pool.uid !== pool.uid || c.quarantineUntil !== quarantineUntil) throw new Error('a release group is of one pool, with one quarantineUntil');
      for (const ch of c.chunks) {
        const seen = chunks.get(ch.base);
        if (seen && (seen.blockCidr !== undefined || ch.blockCidr !== undefined)) throw new Error('a block release shares no chunk update');
        chunks.set(ch.base, seen ? { ...seen, offsets: [...seen.offsets, ...ch.offsets] } : ch);
      }
    }
    // Each member's uniqueness claims go too, those that still point at it (txLeaving).
    const leaving = group.flatMap((c) => this.claimDeletes(c.claims ?? [], claimRef(pool.uid, c.allocation)));
    return this.txLeaving(leaving, [
      ...group.flatMap((c) => this.releasedItems(c)),
      ...[...chunks.values()].map((ch) => this.chunkUpdate(pool, ch, 'release', quarantineUntil)),
      {
        Update: {
          TableName: this.table,
          Key: keys.shard(pool.uid, group[0]!.shard),
          UpdateExpression: 'ADD allocated :n, seq :one SET lastChange = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':n': -group.reduce((n, c) => n + c.addressCount, 0n), ':one': 1, ':now': Date.now() },
        },
      },
    ]);
  }

  /** What a release writes of its own: its allocation becomes a tombstone (if unchanged since read), its claim goes. */
  private releasedItems(c: ReleaseCommit): TxItem[] {
    const { pool, allocation: a } = c;
    const value = c.chunks[0]!.base + BigInt(c.chunks[0]!.offsets[0]!);
    return [
      {
        Update: {
          TableName: this.table,
          Key: AllocationEntity.key(a.cloud, a.family, value, spaceOf(pool).slot),
          UpdateExpression: `SET #st = :released, releasedAt = :at, releasedBy = :by, releaseRequestId = :rid, #ttl = :ttl${c.quarantineUntil > 0 ? ', quarantineUntil = :qu' : ''} ADD version :one REMOVE gsi1pk, gsi1sk`,
          ConditionExpression: '#st = :allocated AND version = :v',
          ExpressionAttributeNames: { '#st': 'state', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':released': 'released',
            ':allocated': 'allocated',
            ':at': c.releasedAt,
            ':by': c.releasedBy,
            ':rid': c.requestId ?? null,
            ':ttl': AllocationEntity.tombstoneTtl(Date.now(), c.quarantineUntil),
            ...(c.quarantineUntil > 0 ? { ':qu': c.quarantineUntil } : {}),
            ':one': 1,
            ':v': a.version,
          },
        },
      },
      { Delete: { TableName: this.table, Key: ClaimEntity.key(pool.uid, a), ConditionExpression: 'address = :addr', ExpressionAttributeValues: { ':addr': a.address } } },
    ];
  }

  /** Puts of the allocation's uniqueness claims, each only if nobody holds it. */
  private claimPuts(claims: UniqueClaim[], a: Allocation, pool: Pool): TxItem[] {
    return claims.map((c) => ({ Put: { TableName: this.table, Item: UniqueEntity.toItem(c, a, pool.uid), ...UniqueEntity.take } }));
  }

  /** Deletes of claims, each only if it is free already or points at the allocation `ref`. */
  private claimDeletes(claims: UniqueClaim[], ref: string): TxItem[] {
    return claims.map((c) => ({ Delete: { TableName: this.table, Key: UniqueEntity.key(c), ...UniqueEntity.mine(ref) } }));
  }

  /** The first claim (items from `at` on, in the order of `claims`) whose put failed, with its holder. */
  private claimConflict(reasons: Reasons, at: number, claims: (UniqueClaim | undefined)[]): ClaimConflict | undefined {
    for (let j = 0; j < claims.length; j++) {
      const r = reasons[at + j];
      const claim = claims[j];
      const held = r?.Code === 'ConditionalCheckFailed' ? rawItem(r.Item) : undefined;
      if (claim && held) return { ok: false, reason: 'claim', claim, owner: UniqueEntity.ownerOf(held) };
    }
    return undefined;
  }

  /**
   * A transaction that also gives up claims (`leaving`, appended): a claim that points at another
   * allocation (an allocation made before claims existed shares the value) is not this one's to
   * delete, so when only such deletes fail, the transaction goes again without them.
   */
  private async txLeaving(leaving: TxItem[], items: TxItem[], tried?: { ok: false; reasons: Reasons }): Promise<'ok' | 'raced'> {
    const out = tried ?? (await this.send([...items, ...leaving]));
    if (out.ok) return 'ok';
    const kept = leaving.filter((_, j) => out.reasons[items.length + j]?.Code !== 'ConditionalCheckFailed');
    const onlyLeaving = out.reasons.every((r, i) => i >= items.length || r.Code === 'None' || r.Code === undefined);
    if (!onlyLeaving || kept.length === leaving.length) return 'raced';
    return (await this.send([...items, ...kept])).ok ? 'ok' : 'raced';
  }

  async claimOwners(claims: UniqueClaim[]): Promise<Map<string, ClaimOwner>> {
    const out = new Map<string, ClaimOwner>();
    for (const i of await this.batchGet(claims.map((c) => UniqueEntity.key(c)))) out.set(claimText(UniqueEntity.claimOf(i)), UniqueEntity.ownerOf(i));
    return out;
  }

  async dropClaim(claim: UniqueClaim, owner: ClaimOwner): Promise<'ok' | 'raced'> {
    try {
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key: UniqueEntity.key(claim), ...UniqueEntity.stillAt(owner.ref) }));
      return 'ok';
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return 'raced';
      throw e;
    }
  }

  async getAllocationAt(cloud: string, family: Family, value: bigint, slot?: number): Promise<Allocation | undefined> {
    const item = await this.reads.run('', AllocationEntity.key(cloud, family, slotOf({ family, slot }, value), slot));
    return AllocationEntity.isAllocated(item) ? AllocationEntity.fromItem(item!) : undefined;
  }

  async blocksCovering(cloud: string, family: Family, value: bigint): Promise<string[]> {
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :meta)',
        ExpressionAttributeValues: { ':pk': keys.chunkPk(cloud, family, chunkBaseOf(value)), ':meta': PREFIX.chunkMeta },
        ConsistentRead: true,
      }),
    );
    return (r.Items ?? []).flatMap((i) => [...(ChunkEntity.fromItem(i)?.blocks.values() ?? [])]);
  }

  async getHeld(pool: Pool, holder: Holder, name: string): Promise<Allocation | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.held(pool.uid, holder, name), ConsistentRead: true }));
    if (!r.Item) return undefined;
    return this.getAllocationAt(pool.cloud, pool.family, parseAddress(ClaimEntity.fromItem(r.Item).address).value, spaceOf(pool).slot);
  }

  async chunkAllocations(pool: Pool, base: bigint, fromOffset: number): Promise<Allocation[]> {
    const out: Allocation[] = [];
    const items = this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      FilterExpression: '#st = :allocated AND poolUid = :uid',
      ExpressionAttributeNames: { '#st': 'state' },
      ExpressionAttributeValues: { ':pk': keys.chunkPk(pool.cloud, pool.family, base, spaceOf(pool).slot), ':lo': keys.allocationSk(fromOffset), ':hi': keys.allocationSk(255), ':allocated': 'allocated', ':uid': pool.uid },
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
    for await (const i of items) if (AllocationEntity.isAllocated(i)) out.push(AllocationEntity.fromItem(i));
    return out;
  }

  async updateAllocation(pool: Pool, prev: Allocation, next: Allocation, claims: { drop: UniqueClaim[]; add: UniqueClaim[] } = { drop: [], add: [] }): Promise<'ok' | 'raced' | ClaimConflict> {
    const value = slotOf(spaceOf(pool), parseAddress(prev.address).value);
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
    const items: TxItem[] = [
      {
        Update: {
          TableName: this.table,
          Key: AllocationEntity.key(prev.cloud, prev.family, value, spaceOf(pool).slot),
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
      ...this.claimPuts(claims.add, next, pool),
    ];
    const leaving = this.claimDeletes(claims.drop, claimRef(pool.uid, prev));
    const out = await this.send([...items, ...leaving]);
    if (out.ok) return 'ok';
    // A new claim someone holds is the answer (409 unless stale); else maybe only leaving claims failed.
    return this.claimConflict(out.reasons, 2, claims.add) ?? this.txLeaving(leaving, items, out);
  }

  async getEnvironment(cloud: string, name: string): Promise<EnvironmentRecord | undefined> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: keys.environment(cloud, name), ConsistentRead: true }));
    return r.Item ? EnvironmentEntity.fromItem(r.Item) : undefined;
  }

  async putEnvironment(rec: EnvironmentRecord, expectToken: string | null): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: EnvironmentEntity.toItem(rec),
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

  /** One transaction; the cancellation reasons when it is cancelled. */
  private async send(items: TxItem[]): Promise<{ ok: true } | { ok: false; reasons: Reasons }> {
    return this.tx(items, (reasons) => ({ ok: false as const, reasons }), { ok: true as const });
  }

  private async tx(items: TxItem[]): Promise<'ok' | 'raced'>;
  private async tx<T, U>(items: TxItem[], cancelled: (reasons: Reasons) => U, ok: T): Promise<T | U>;
  private async tx(items: TxItem[], cancelled: (reasons: Reasons) => unknown = () => 'raced', ok: unknown = 'ok'): Promise<unknown> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      const first = items[0]!;
      const key = (first.Put?.Item ?? first.Update?.Key ?? first.Delete?.Key ?? first.ConditionCheck?.Key) as { pk: string; sk: string } | undefined;
      if (key) await this.settled({ pk: key.pk, sk: key.sk });
      return ok;
    } catch (e) {
      const reasons = cancellation(e);
      if (reasons) return cancelled(reasons);
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


