/**
 * The local service's stand-in for the Lambda event source mapping of the security-events function:
 * reads the table's DynamoDB stream from DynamoDB Local, hands batches (shaped like Lambda's
 * DynamoDBStreamEvent) to the SAME handler as Lambda (lib/events/handler.ts), and appends the events to
 * `<dataDir>/security-events.jsonl`.
 *
 * One file of about 600 lines on purpose: shard order, checkpoints, read-ahead and dedupe share one
 * state, and the delivery guarantee below holds only when their interplay can be read in one place.
 *
 * Delivery: at least once from the stream, exactly once into the file.
 * - Per shard, in sequence order; a child shard (after a split or a closed shard) only after its parent.
 * - A batch's events are written and fsync'ed, then the shard's position is saved in
 *   `<dataDir>/stream-checkpoint.json` (written to a temporary file, fsync'ed and renamed).
 * - When the handler reports batchItemFailures (or throws), only the events of the records before the
 *   first failed one are written; the shard resumes at the first failed record after a backoff (and a
 *   thrown batch is retried at half the size, like BisectBatchOnFunctionError). It retries until the
 *   record goes through: locally nothing is dropped to a dead-letter queue; onError reports each failure.
 * - On start, event ids in the tail of the JSONL file are remembered, so a crash between writing events
 *   and saving the checkpoint does not write them twice; a torn last line is cut off.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableExists } from './dynamodb-local.js';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type AttributeValue as StreamAttributeValue,
  type DescribeStreamCommandOutput,
  type GetRecordsCommandOutput,
  type GetShardIteratorCommandOutput,
  type ListStreamsCommandOutput,
  type _Record as StreamRecordOut,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { LOCAL_CREDENTIALS } from './dynamodb-local.js';
import { withoutSdkLogger } from '../dynamo/store.js';
import { createSecurityEventsHandler, type SecurityEventSink, type SecurityEventsHandler } from '../events/handler.js';
import type { SecurityEvent } from '../events/security.js';

export const EVENTS_FILE = 'security-events.jsonl';
export const CHECKPOINT_FILE = 'stream-checkpoint.json';

/** The subset of DynamoDBStreamsClient the reader uses (tests pass a fake). */
export interface StreamsClientLike {
  send(command: DescribeStreamCommand): Promise<DescribeStreamCommandOutput>;
  send(command: GetShardIteratorCommand): Promise<GetShardIteratorCommandOutput>;
  send(command: GetRecordsCommand): Promise<GetRecordsCommandOutput>;
  send(command: ListStreamsCommand): Promise<ListStreamsCommandOutput>;
  destroy?(): void;
}

export interface StreamReaderOptions {
  /** DynamoDB Local endpoint (also serves the Streams API). */
  endpoint: string;
  table: string;
  /** Directory of security-events.jsonl and stream-checkpoint.json (created if missing). */
  dataDir: string;
  /**
   * Builds the handler around the reader's sink (the JSONL file). Default
   * `(emit) => createSecurityEventsHandler({ emit })`, the Lambda function's handler with another sink.
   */
  handler?: (emit: SecurityEventSink) => SecurityEventsHandler;
  /** Failures that the reader survives (it retries). Default: console.error. */
  onError?: (error: Error) => void;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Wait between polls when no shard had new records. Default 250 ms. */
  pollMs?: number;
  /** Records per GetRecords and per handler call (Lambda's BatchSize). Default 100. */
  batchSize?: number;
  /** How often the stream's shard list (and the table's current stream) is re-read. Default 10 s. */
  refreshMs?: number;
  /** Upper bound of the retry backoff of a failing batch. Default 10 s. */
  maxBackoffMs?: number;
  /** Testing: a Streams client to use instead of one on `endpoint`. */
  streamsClient?: StreamsClientLike;
  /** Testing: the stream to read (skips DescribeTable). */
  streamArn?: string;
}

export interface StreamReader {
  /** Finishes the batch in progress (events written, checkpoint saved), then stops. */
  stop(): Promise<void>;
  /**
   * How far behind the reader is: 0 when its last poll of every shard found nothing new; otherwise the
   * age of the oldest record read but not yet handled (approximate: from when it was first read, or from
   * its ApproximateCreationDateTime, which DynamoDB Local rounds down to the minute, plus one minute).
   */
  lagMs(): number;
}

interface Checkpoint {
  version: 1;
  table: string;
  streamArn?: string;
  /** Per shard: the last sequence number whose events are in the file; done = closed and fully read. */
  shards: Record<string, { sequenceNumber?: string; done?: boolean }>;
  updatedAt?: string;
}

interface ShardState {
  id: string;
  parent?: string;
  after?: string;
  done: boolean;
  /** Where the next GetRecords reads: after the last record in `buffer`. */
  iterator?: string;
  /** Read, not yet handled (read ahead while the previous batch was handled). */
  buffer: StreamRecordOut[];
  /** GetRecords said the shard is closed: `buffer` holds its last records. */
  ended: boolean;
  limit: number;
  failures: number;
  retryAt: number;
  behindSince?: number;
}

const APPROX_TIME_PRECISION_MS = 60_000;
const TAIL_BYTES = 4 * 1024 * 1024;
const RECENT_IDS = 50_000;

export async function startStreamReader(opts: StreamReaderOptions): Promise<StreamReader> {
  const pollMs = opts.pollMs ?? 250;
  const batchSize = Math.max(1, Math.min(1000, opts.batchSize ?? 100));
  const refreshMs = opts.refreshMs ?? 10_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  const report =
    opts.onError ??
    ((e: Error) => {
      console.error(`[security events] ${e.message}`);
    });
  const fail = (message: string, cause?: unknown) => report(new Error(cause === undefined ? message : `${message}: ${(cause as Error)?.message ?? String(cause)}`, cause === undefined ? undefined : { cause }));

  await mkdir(opts.dataDir, { recursive: true });
  const eventsPath = path.join(opts.dataDir, EVENTS_FILE);
  const checkpointPath = path.join(opts.dataDir, CHECKPOINT_FILE);

  const checkpoint = await loadCheckpoint(checkpointPath, opts.table);
  const file = await EventFile.open(eventsPath, fail);

  const clientConfig = { endpoint: opts.endpoint, region: opts.region ?? 'us-east-1', credentials: opts.credentials ?? LOCAL_CREDENTIALS };
  const streams: StreamsClientLike = opts.streamsClient ?? withoutSdkLogger(new DynamoDBStreamsClient(clientConfig));
  const dynamodb = opts.streamArn ? undefined : new DynamoDBClient(clientConfig);

  let collecting: SecurityEvent[] | undefined;
  const sink: SecurityEventSink = (event) => {
    if (!collecting) throw new Error('security event emitted outside a batch');
    collecting.push(event);
  };
  const handler = (opts.handler ?? ((emit) => createSecurityEventsHandler({ emit })))(sink);

  const shards = new Map<string, ShardState>();
  let streamArn: string | undefined;
  let lastRefresh = 0;
  let needRefresh = true;
  let stopping = false;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const saveCheckpoint = async () => {
    checkpoint.streamArn = streamArn;
    checkpoint.shards = {};
    for (const s of shards.values()) {
      if (s.after !== undefined || s.done) checkpoint.shards[s.id] = { ...(s.after !== undefined ? { sequenceNumber: s.after } : {}), ...(s.done ? { done: true } : {}) };
    }
    checkpoint.updatedAt = new Date().toISOString();
    await writeAtomically(checkpointPath, JSON.stringify(checkpoint, null, 2) + '\n');
  };

  /** Re-reads the table's current stream and its shards. */
  const refresh = async () => {
    let arn = opts.streamArn;
    if (!arn) {
      // ListStreams, not DescribeTable: DynamoDB Local counts a table's items for DescribeTable
      // (10 s with a million allocations stored), and this runs every refreshMs.
      const listed: { StreamArn?: string; StreamLabel?: string }[] = [];
      let from: string | undefined;
      do {
        const r = await streams.send(new ListStreamsCommand({ TableName: opts.table, ...(from ? { ExclusiveStartStreamArn: from } : {}) }));
        listed.push(...(r.Streams ?? []));
        from = r.LastEvaluatedStreamArn;
      } while (from);
      // The newest stream (a table re-created or its stream re-enabled has several); labels are timestamps.
      arn = listed.sort((a, b) => (a.StreamLabel ?? '').localeCompare(b.StreamLabel ?? '')).at(-1)?.StreamArn;
      if (!arn) {
        if (!(await tableExists(dynamodb!, opts.table))) throw Object.assign(new Error(`table ${opts.table} does not exist`), { name: 'ResourceNotFoundException' });
        throw new Error(`table ${opts.table} has no stream enabled`);
      }
    }
    if (arn !== streamArn) {
      if (checkpoint.streamArn && checkpoint.streamArn !== arn) {
        fail(`the table's stream changed (${checkpoint.streamArn} -> ${arn}; table re-created?): reading the new stream from its oldest record`);
        checkpoint.shards = {};
      }
      streamArn = arn;
      shards.clear();
      for (const [id, c] of Object.entries(checkpoint.streamArn === arn ? checkpoint.shards : {})) {
        shards.set(id, { id, ...(c.sequenceNumber ? { after: c.sequenceNumber } : {}), done: !!c.done, buffer: [], ended: false, limit: batchSize, failures: 0, retryAt: 0 });
      }
      checkpoint.streamArn = arn;
    }
    const listed = new Map<string, string | undefined>();
    let start: string | undefined;
    do {
      const r = await streams.send(new DescribeStreamCommand({ StreamArn: arn, ...(start ? { ExclusiveStartShardId: start } : {}) }));
      for (const sh of r.StreamDescription?.Shards ?? []) if (sh.ShardId) listed.set(sh.ShardId, sh.ParentShardId);
      start = r.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    let changed = false;
    for (const [id, parent] of listed) {
      const s = shards.get(id);
      if (s) {
        if (parent) s.parent = parent;
      } else shards.set(id, { id, ...(parent ? { parent } : {}), done: false, buffer: [], ended: false, limit: batchSize, failures: 0, retryAt: 0 });
    }
    for (const s of [...shards.values()]) {
      if (listed.has(s.id)) continue;
      // Gone from the stream (older than its 24 h retention).
      if (!s.done) fail(`shard ${s.id} was trimmed from the stream before it was read to its end: its remaining changes have no security event`);
      shards.delete(s.id);
      changed = true;
    }
    if (changed) await saveCheckpoint();
    lastRefresh = Date.now();
    needRefresh = false;
  };

  const ready = (s: ShardState, now: number) => {
    if (s.done || s.retryAt > now) return false;
    const parent = s.parent ? shards.get(s.parent) : undefined;
    return !parent || parent.done;
  };

  const iteratorFor = async (s: ShardState): Promise<string | undefined> => {
    const get = (type: 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON') =>
      streams.send(new GetShardIteratorCommand({ StreamArn: streamArn!, ShardId: s.id, ShardIteratorType: type, ...(type === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: s.after! } : {}) }));
    if (s.after === undefined) return (await get('TRIM_HORIZON')).ShardIterator;
    try {
      return (await get('AFTER_SEQUENCE_NUMBER')).ShardIterator;
    } catch (e) {
      if ((e as Error).name !== 'TrimmedDataAccessException') throw e;
      fail(`shard ${s.id}: records after ${s.after} were trimmed from the stream before they were read; continuing from the oldest record`, e);
      return (await get('TRIM_HORIZON')).ShardIterator;
    }
  };

  /** Forgets what was read ahead: the shard is read again from its checkpoint. */
  const rewind = (s: ShardState) => {
    s.iterator = undefined;
    s.buffer = [];
    s.ended = false;
  };

  /** One GetRecords at the shard's read position, into its buffer. */
  const readOnce = async (s: ShardState): Promise<number> => {
    let r: GetRecordsCommandOutput;
    try {
      r = await streams.send(new GetRecordsCommand({ ShardIterator: s.iterator!, Limit: s.limit }));
    } catch (e) {
      rewind(s);
      const name = (e as Error).name;
      if (name === 'ExpiredIteratorException') return 0; // a fresh one from the checkpoint next time
      if (name === 'TrimmedDataAccessException') {
        fail(`shard ${s.id}: records were trimmed from the stream before they were read; continuing from the oldest record`, e);
        s.after = undefined;
        return 0;
      }
      if (name === 'ResourceNotFoundException') needRefresh = true;
      throw e;
    }
    const records = r.Records ?? [];
    s.buffer.push(...records);
    if (r.NextShardIterator) s.iterator = r.NextShardIterator;
    else {
      s.iterator = undefined;
      s.ended = true;
    }
    return records.length;
  };

  /**
   * Reads on while a batch is being handled, so that the next batch is already here when it ends:
   * the read latency leaves the cycle, and a busy stream gets bigger batches. Stops at a full batch.
   */
  const readAhead = async (s: ShardState, handling: { done: boolean }): Promise<unknown> => {
    try {
      while (!handling.done && !stopping && s.iterator && s.buffer.length < s.limit) {
        if ((await readOnce(s)) === 0 && !handling.done) await new Promise((r) => setTimeout(r, Math.min(pollMs, 25)));
      }
      return undefined;
    } catch (e) {
      return e;
    }
  };

  /** Handles the next batch of one shard (reading it first if nothing was read ahead). Returns the number of records handled. */
  const poll = async (s: ShardState): Promise<number> => {
    if (s.buffer.length === 0 && !s.ended) {
      s.iterator ??= await iteratorFor(s);
      if (!s.iterator) s.ended = true; // no iterator: DynamoDB says the shard has nothing more
      else await readOnce(s);
    }
    if (s.buffer.length === 0) {
      s.behindSince = undefined;
      if (s.ended) {
        // The shard is closed and read to its end; its children (if any) may start.
        s.iterator = undefined;
        s.done = true;
        await saveCheckpoint();
        needRefresh = true;
      }
      return 0;
    }
    const first = createdMs(s.buffer[0]!);
    s.behindSince ??= Math.min(Date.now(), first === undefined ? Infinity : first + APPROX_TIME_PRECISION_MS);
    const batch = s.buffer.splice(0, s.limit);
    const handling = { done: false };
    const ahead = readAhead(s, handling);
    let delivered: boolean;
    try {
      delivered = await deliver(s, batch);
    } catch (e) {
      handling.done = true;
      await ahead;
      rewind(s); // read again from the checkpoint
      throw e;
    }
    handling.done = true;
    const aheadError = await ahead;
    if (!delivered) rewind(s); // resume at the first failed record, from the checkpoint
    else if (aheadError) {
      rewind(s);
      fail(`shard ${s.id}: reading ahead failed; reading again from the checkpoint`, aheadError);
    }
    return batch.length;
  };

  /** Runs the handler on a batch; writes the events of the records up to the first failure. */
  const deliver = async (s: ShardState, raw: StreamRecordOut[]): Promise<boolean> => {
    const records = raw.map((r) => toLambdaRecord(r, streamArn!));
    const events: SecurityEvent[] = [];
    let failed = new Set<string>();
    let thrown: unknown;
    collecting = events;
    try {
      const res = await handler({ Records: records });
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (e) {
      thrown = e ?? new Error('the handler threw');
    } finally {
      collecting = undefined;
    }
    let firstFailed = thrown !== undefined ? 0 : records.findIndex((r) => failed.has(r.dynamodb!.SequenceNumber!));
    // Like Lambda: an identifier that names no record of the batch fails the whole batch.
    if (failed.size > 0 && firstFailed === -1) firstFailed = 0;
    const good = firstFailed === -1 ? records.length : firstFailed;

    const batchIds = new Set(records.map((r) => r.eventID));
    const goodIds = new Set(records.slice(0, good).map((r) => r.eventID));
    await file.append(events.filter((e) => !batchIds.has(e.eventId) || goodIds.has(e.eventId)));
    if (good > 0) {
      s.after = records[good - 1]!.dynamodb!.SequenceNumber!;
      await saveCheckpoint();
    }
    if (good === records.length) {
      s.failures = 0;
      s.limit = batchSize;
      return true;
    }
    s.failures++;
    if (thrown !== undefined) s.limit = Math.max(1, Math.floor(s.limit / 2));
    const wait = Math.min(maxBackoffMs, pollMs * 2 ** (s.failures - 1));
    s.retryAt = Date.now() + wait;
    const at = records[good]!.dynamodb!.SequenceNumber;
    fail(
      `shard ${s.id}: the handler failed ${thrown !== undefined ? `the whole batch of ${records.length}` : `${failed.size} record(s)`} ` +
        `(first at sequence number ${at}, attempt ${s.failures}); retrying from there in ${wait} ms`,
      thrown,
    );
    return false;
  };

  const loop = async () => {
    let errors = 0;
    while (!stopping) {
      try {
        if (needRefresh || Date.now() - lastRefresh >= refreshMs) await refresh();
        let read = 0;
        const now = Date.now();
        for (const s of [...shards.values()]) {
          if (stopping) break;
          if (ready(s, now)) read += await poll(s);
        }
        errors = 0;
        if (read === 0 && !stopping) await sleep(pollMs);
      } catch (e) {
        errors++;
        needRefresh = true;
        fail('reading the DynamoDB stream failed', e);
        if (!stopping) await sleep(Math.min(maxBackoffMs, pollMs * 2 ** Math.min(errors, 10)));
      }
    }
  };

  const close = async () => {
    await file.close();
    streams.destroy?.();
    dynamodb?.destroy();
  };
  // Fail fast on a wrong endpoint or table; afterwards errors are reported and retried.
  try {
    await refresh();
  } catch (e) {
    await close();
    throw e;
  }
  const running = loop();
  let stopped: Promise<void> | undefined;

  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wake?.();
        await running;
        await close();
      })();
      return stopped;
    },
    lagMs() {
      let since = Infinity;
      for (const s of shards.values()) if (!s.done && s.behindSince !== undefined) since = Math.min(since, s.behindSince);
      return since === Infinity ? 0 : Math.max(0, Date.now() - since);
    },
  };
}

// ---------------------------------------------------------------- the events file

/** The JSONL file: appends with fsync, and skips events whose id it already holds (recent ones). */
class EventFile {
  private readonly recent = new Set<string>();
  private readonly order: string[] = [];
  private size = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async open(file: string, fail: (m: string, cause?: unknown) => void): Promise<EventFile> {
    const fh = await open(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o600);
    const out = new EventFile(fh);
    const { size } = await fh.stat();
    out.size = size;
    if (size === 0) return out;
    const from = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    let text = buf.toString('utf8');
    const lastNl = text.lastIndexOf('\n');
    if (!text.endsWith('\n')) {
      // A torn last line (crash while writing): its record was not checkpointed, it will be written again.
      if (lastNl === -1 && from > 0) fail(`${file}: no line end in its last ${TAIL_BYTES} bytes; leaving it as it is`);
      else {
        const keep = from + Buffer.byteLength(text.slice(0, lastNl + 1), 'utf8');
        await fh.truncate(keep);
        out.size = keep;
        fail(`${file}: cut off a torn last line (${size - keep} bytes) left by an interrupted write`);
        text = text.slice(0, lastNl + 1);
      }
    }
    const lines = text.split('\n');
    if (from > 0) lines.shift(); // probably a partial line
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const id = (JSON.parse(line) as { eventId?: unknown }).eventId;
        if (typeof id === 'string') out.remember(id);
      } catch {
        /* not ours */
      }
    }
    return out;
  }

  async append(events: SecurityEvent[]): Promise<void> {
    const lines: string[] = [];
    const ids = new Set<string>();
    for (const e of events) {
      if (this.recent.has(e.eventId) || ids.has(e.eventId)) continue;
      ids.add(e.eventId);
      lines.push(JSON.stringify(e) + '\n');
    }
    if (lines.length === 0) return;
    const data = Buffer.from(lines.join(''), 'utf8');
    try {
      await this.fh.appendFile(data);
      await this.fh.datasync();
    } catch (e) {
      // Leave no partial line behind: the batch is read again from the checkpoint.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw e;
    }
    this.size += data.length;
    for (const id of ids) this.remember(id);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private remember(id: string) {
    if (this.recent.has(id)) return;
    this.recent.add(id);
    this.order.push(id);
    if (this.order.length > RECENT_IDS) this.recent.delete(this.order.shift()!);
  }
}

/**
 * Reads a security-events.jsonl file (e.g. `<dataDir>/security-events.jsonl`). Only complete lines
 * count: a reader that meets the writer mid-append sees the last event whole on its next read, not
 * a torn line now.
 */
export async function readSecurityEventsFile(file: string): Promise<SecurityEvent[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SecurityEvent);
}

// ---------------------------------------------------------------- checkpoint

async function loadCheckpoint(file: string, table: string): Promise<Checkpoint> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, table, shards: {} };
    throw e;
  }
  const c = JSON.parse(text) as Checkpoint;
  if (c.version !== 1 || typeof c.shards !== 'object' || c.shards === null) throw new Error(`${file}: not a stream checkpoint of this version`);
  if (c.table !== table) throw new Error(`${file} is the checkpoint of table ${c.table}, not ${table}: use another data directory`);
  return c;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  try {
    const dir = await open(path.dirname(file), 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    /* directory fsync is not supported everywhere */
  }
}

// ---------------------------------------------------------------- Streams API record -> Lambda record

/** A GetRecords record in the shape Lambda hands to the function (DynamoDBRecord). */
export function toLambdaRecord(r: StreamRecordOut, eventSourceARN: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  const created = d.ApproximateCreationDateTime;
  return {
    ...(r.eventID ? { eventID: r.eventID } : {}),
    ...(r.eventName ? { eventName: r.eventName } : {}),
    ...(r.eventVersion ? { eventVersion: r.eventVersion } : {}),
    ...(r.eventSource ? { eventSource: r.eventSource } : {}),
    ...(r.awsRegion ? { awsRegion: r.awsRegion } : {}),
    eventSourceARN,
    dynamodb: {
      ...(created ? { ApproximateCreationDateTime: created instanceof Date ? created.getTime() / 1000 : Number(created) } : {}),
      ...(d.Keys ? { Keys: lambdaImage(d.Keys) } : {}),
      ...(d.NewImage ? { NewImage: lambdaImage(d.NewImage) } : {}),
      ...(d.OldImage ? { OldImage: lambdaImage(d.OldImage) } : {}),
      ...(d.SequenceNumber ? { SequenceNumber: d.SequenceNumber } : {}),
      ...(d.SizeBytes !== undefined ? { SizeBytes: d.SizeBytes } : {}),
      ...(d.StreamViewType ? { StreamViewType: d.StreamViewType } : {}),
    },
    ...(r.userIdentity ? { userIdentity: { type: r.userIdentity.Type, principalId: r.userIdentity.PrincipalId } } : {}),
  };
}

function lambdaImage(img: Record<string, StreamAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(img).map(([k, v]) => [k, lambdaValue(v)]));
}

function lambdaValue(v: StreamAttributeValue): AttributeValue {
  const a = v as unknown as Record<string, unknown>;
  if (a.B instanceof Uint8Array) return { B: Buffer.from(a.B).toString('base64') };
  if (Array.isArray(a.BS)) return { BS: (a.BS as Uint8Array[]).map((b) => Buffer.from(b).toString('base64')) };
  if (a.M && typeof a.M === 'object') return { M: lambdaImage(a.M as Record<string, StreamAttributeValue>) };
  if (Array.isArray(a.L)) return { L: (a.L as StreamAttributeValue[]).map(lambdaValue) };
  // DynamoDB Local sends an empty map as {} in stream records.
  if (Object.keys(a).length === 0) return { M: {} };
  return a as AttributeValue;
}

function createdMs(r: StreamRecordOut): number | undefined {
  const c = r.dynamodb?.ApproximateCreationDateTime;
  if (c instanceof Date) return c.getTime();
  if (typeof c === 'number') return c * 1000;
  return undefined;
}
