/**
 * The local equivalent of a global-table replica: a second DynamoDB Local, in its own data dir,
 * kept in sync from the primary table's stream (NEW_AND_OLD_IMAGES, applied in order per item).
 * `IPAM_DATA_DIR=<replica dir> npm start` serves from it after the primary is lost.
 *
 * Lag is measured per applied record as (time applied − time of the change), where the time of the
 * change is the newest timestamp the item carries (allocatedAt, releasedAt, updatedAt, lastChange, ...).
 */
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient, ScanCommand, TransactWriteItemsCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ensureTable, LOCAL_CREDENTIALS, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';
import { startStreamReader, type StreamReader } from './stream-reader.js';
import { retryPassing } from '../dynamo/retry.js';

export interface ReplicaStatus {
  /** Stream records applied since the replica started. */
  applied: number;
  /** Lag percentiles of the changes applied in the last minute (0 when none were). */
  lagP50Ms: number;
  lagP99Ms: number;
  /** The largest lag since the replica started. */
  lagMaxMs: number;
  /** How far the stream reader is behind now (0 when it has read everything). */
  behindMs: number;
  updatedAt: string;
}

export interface Replica {
  endpoint: string;
  status(): ReplicaStatus;
  stop(): Promise<void>;
}

/** Lag percentiles cover the changes applied in the last minute (like a per-minute metric). */
const LAG_WINDOW_MS = 60_000;

const TIME_ATTRS_ISO = ['allocatedAt', 'releasedAt', 'updatedAt', 'createdAt', 'deletedAt'];
const TIME_ATTRS_MS = ['lastChange', 'changedAt'];

/** When the change in this image happened (epoch ms), from the timestamps the engine writes. */
export function changeTime(image: Record<string, AttributeValue> | undefined): number | undefined {
  if (!image) return undefined;
  let t: number | undefined;
  for (const a of TIME_ATTRS_ISO) {
    const v = image[a]?.S;
    const ms = v ? Date.parse(v) : NaN;
    if (!Number.isNaN(ms)) t = Math.max(t ?? 0, ms);
  }
  for (const a of TIME_ATTRS_MS) {
    const v = image[a]?.N;
    if (v) t = Math.max(t ?? 0, Number(v));
  }
  return t;
}

export async function startReplica(opts: { primaryEndpoint: string; table: string; replicaDir: string; callersFile?: string; log?: (line: string) => void }): Promise<Replica> {
  const log = opts.log ?? console.log;
  await mkdir(opts.replicaDir, { recursive: true });
  const ddb: DynamoLocal = await startDynamoLocal({ dbPath: path.join(opts.replicaDir, 'dynamodb') });
  const replica = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const primary = new DynamoDBClient({ endpoint: opts.primaryEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const fresh = !existsSync(path.join(opts.replicaDir, 'replica-status.json'));
  await ensureTable(replica, opts.table);
  if (opts.callersFile && !existsSync(path.join(opts.replicaDir, 'callers.json'))) await copyFile(opts.callersFile, path.join(opts.replicaDir, 'callers.json'));
  if (fresh) {
    // Seed with what the primary holds now; the stream (read from its start) then brings every later change.
    let start: Record<string, AttributeValue> | undefined;
    let copied = 0;
    do {
      const page = await primary.send(new ScanCommand({ TableName: opts.table, ExclusiveStartKey: start, ConsistentRead: true }));
      const items = page.Items ?? [];
      await writeAll(replica, items.map((Item) => ({ Put: { TableName: opts.table, Item } })));
      copied += items.length;
      start = page.LastEvaluatedKey;
    } while (start);
    log(`replica: seeded ${copied} items from the primary`);
  }
  const lags: { at: number; lag: number }[] = []; // the last minute's
  let applied = 0;
  let lagMax = 0;
  /**
   * Applies a batch: the last image of each item wins (records carry whole images, in order per
   * item), written in transactions of 100. Replaying a batch is harmless.
   */
  const apply = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const last = new Map<string, { put?: Record<string, AttributeValue>; key: Record<string, AttributeValue> }>();
    const times: number[] = [];
    for (const r of event.Records) {
      const key = r.dynamodb!.Keys as Record<string, AttributeValue>;
      const image = r.dynamodb!.NewImage as Record<string, AttributeValue> | undefined;
      last.set(JSON.stringify(key), r.eventName === 'REMOVE' || !image ? { key } : { key, put: image });
      const t = changeTime(image ?? (r.dynamodb!.OldImage as Record<string, AttributeValue> | undefined));
      if (t !== undefined) times.push(t);
    }
    const writes = [...last.values()].map((w) => (w.put ? { Put: { TableName: opts.table, Item: w.put } } : { Delete: { TableName: opts.table, Key: w.key } }));
    try {
      await writeAll(replica, writes);
    } catch {
      // Nothing of this batch is acknowledged: the reader retries all of it, in order.
      return { batchItemFailures: event.Records.map((x) => ({ itemIdentifier: x.dynamodb!.SequenceNumber! })) };
    }
    applied += event.Records.length;
    const now = Date.now();
    for (const t of times) {
      const lag = Math.max(0, now - t);
      lags.push({ at: now, lag });
      lagMax = Math.max(lagMax, lag);
    }
    forget(now);
    return { batchItemFailures: [] };
  };
  const reader: StreamReader = await startStreamReader({
    endpoint: opts.primaryEndpoint,
    table: opts.table,
    dataDir: path.join(opts.replicaDir, 'replication'),
    handler: () => apply,
    batchSize: 1000,
    pollMs: 100,
    onError: (e) => log(`replica: ${e.message}`),
  });
  const forget = (now: number) => {
    let old = 0;
    while (old < lags.length && lags[old]!.at < now - LAG_WINDOW_MS) old++;
    if (old > 0) lags.splice(0, old);
  };
  const status = (): ReplicaStatus => {
    forget(Date.now());
    const sorted = lags.map((l) => l.lag).sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
    return { applied, lagP50Ms: q(0.5), lagP99Ms: q(0.99), lagMaxMs: lagMax, behindMs: reader.lagMs(), updatedAt: new Date().toISOString() };
  };
  const statusFile = path.join(opts.replicaDir, 'replica-status.json');
  const writeStatus = async () => {
    await writeFile(`${statusFile}.tmp`, JSON.stringify(status(), null, 2));
    await rename(`${statusFile}.tmp`, statusFile);
  };
  await writeStatus();
  const timer = setInterval(() => void writeStatus().catch(() => undefined), 1000);
  let lastLog = 0;
  const logTimer = setInterval(() => {
    const s = status();
    if (s.applied !== lastLog) log(`replica: ${s.applied} changes applied, lag p50 ${s.lagP50Ms} ms, p99 ${s.lagP99Ms} ms`);
    lastLog = s.applied;
  }, 10_000);
  log(`replica: DynamoDB Local ${ddb.endpoint}, data ${opts.replicaDir}; serve from it with IPAM_DATA_DIR=${opts.replicaDir} npm start`);
  return {
    endpoint: ddb.endpoint,
    status,
    async stop() {
      clearInterval(timer);
      clearInterval(logTimer);
      await reader.stop();
      await writeStatus().catch(() => undefined);
      replica.destroy();
      primary.destroy();
      await ddb.stop();
    },
  };
}

type Write = NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']>[number];

/**
 * Writes items (each key at most once) in transactions of up to 100, in parallel. DynamoDB Local
 * commits a transaction once but a batch write once per item: transactions apply 2-3x faster there,
 * and the replica never holds part of a group. A conflict or a 5xx is retried.
 */
async function writeAll(client: DynamoDBClient, writes: Write[]): Promise<void> {
  const groups: Write[][] = [];
  for (let i = 0; i < writes.length; i += 100) groups.push(writes.slice(i, i + 100));
  await Promise.all(groups.map((TransactItems) => retryPassing(() => client.send(new TransactWriteItemsCommand({ TransactItems })))));
}
