/**
 * The local stream reader against the real DynamoDB Local (its Streams API) and the real engine:
 * every change becomes exactly one line of security-events.jsonl, across restarts, handler failures and
 * a crash between writing events and saving the checkpoint. A fake Streams client covers shard lineage
 * (closed parents, children) and expired iterators, which DynamoDB Local does not produce on demand.
 */
import { mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { afterEach, describe, expect, it } from 'vitest';
import type { Allocation } from '../lib/core/model.js';
import { createSecurityEventsHandler } from '../lib/events/handler.js';
import { SecurityEventSchema, type SecurityEvent } from '../lib/events/security.js';
import { CHECKPOINT_FILE, EVENTS_FILE, readSecurityEventsFile, startStreamReader, type StreamReader, type StreamsClientLike } from '../lib/local/stream-reader.js';
import { ddbEndpoint, freshIpam } from './support.js';

const ALLOCATOR = { principal: 'arn:aws:iam::123456789012:role/allocator' };
const RELEASER = { principal: 'arn:aws:sts::123456789012:assumed-role/ops/releaser', requestId: 'rel' };
const EDITOR = { principal: 'arn:aws:iam::123456789012:user/editor', requestId: 'edit-1' };
const ADMIN = { principal: 'arn:aws:iam::123456789012:role/admin', requestId: 'pool-1' };

const dirs: string[] = [];
const readers: StreamReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.stop().catch(() => undefined)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir() {
  const d = await mkdtemp(path.join(tmpdir(), 'ipam-stream-'));
  dirs.push(d);
  return d;
}

async function reader(opts: Parameters<typeof startStreamReader>[0]) {
  const r = await startStreamReader({ pollMs: 100, ...opts });
  readers.push(r);
  return r;
}

async function stopReader(r: StreamReader) {
  readers.splice(readers.indexOf(r), 1);
  await r.stop();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const eventsIn = (dataDir: string) => readSecurityEventsFile(path.join(dataDir, EVENTS_FILE));
const addressEvents = (events: SecurityEvent[]) => events.filter((e) => e.eventType.startsWith('address.'));
const sig = (e: SecurityEvent) => (e.eventType === 'address.allocated' || e.eventType === 'address.released' ? `${e.eventType} ${e.address} ${e.holder} ${e.time} ${e.principal}` : e.eventType);

function expectExactlyOnce(events: SecurityEvent[]) {
  for (const e of events) SecurityEventSchema.parse(e);
  expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  // DynamoDB Local has one shard per stream: the file is in stream order.
  const seqs = events.map((e) => BigInt(e.sequenceNumber!));
  expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Allocates `n` addresses (batches of concurrent calls) and returns them with their allocatedAt. */
async function allocateMany(ipam: Awaited<ReturnType<typeof freshIpam>>['ipam'], from: number, n: number): Promise<Allocation[]> {
  const out: Allocation[] = [];
  for (let i = from; i < from + n; i += 8) {
    const group = await Promise.all(
      Array.from({ length: Math.min(8, from + n - i) }, (_, k) =>
        ipam.allocate({ cloud: 'c1', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `vm-${i + k}` } }, { ...ALLOCATOR, requestId: `alloc-${i + k}` }),
      ),
    );
    for (const g of group) {
      expect(g.created).toBe(true);
      out.push(g.allocation);
    }
  }
  return out;
}

async function releaseMany(ipam: Awaited<ReturnType<typeof freshIpam>>['ipam'], allocations: Allocation[]) {
  const released = await Promise.all(allocations.map((a) => ipam.release('c1', a.address, undefined, RELEASER)));
  return released;
}

const expectedSigs = (allocs: Allocation[], rels: { a: Allocation; at?: string }[], releasedEvents: SecurityEvent[]) => {
  const relTime = new Map(releasedEvents.filter((e) => e.eventType === 'address.released').map((e) => [(e as { holder: string }).holder, e.time]));
  return [
    ...allocs.map((a) => `address.allocated ${a.address} vm:${a.vm} ${a.allocatedAt} ${ALLOCATOR.principal}`),
    ...rels.map(({ a }) => `address.released ${a.address} vm:${a.vm} ${relTime.get(`vm:${a.vm}`)} ${RELEASER.principal}`),
  ].sort();
};

describe('stream reader on DynamoDB Local', () => {
  it('turns N allocations and M releases (concurrent) into exactly N+M address events with the right fields', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    const errors: Error[] = [];
    const r = await reader({ endpoint: ddbEndpoint(), table, dataDir, onError: (e) => errors.push(e) });

    // A domain, so the hostname below is an FQDN of it (and writes a claim item, which is no event).
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.20.0.0/24'], tags: { team: 'net' }, dns: { domain: 'example.com' } }, ADMIN);
    const N = 40;
    const allocs = await allocateMany(ipam, 0, N);
    const toRelease = allocs.filter((_, i) => i % 3 === 0); // M = 14
    const releasedAt = Date.now();
    await releaseMany(ipam, toRelease);
    const updated = await ipam.updateAllocation('c1', allocs[1]!.address, { hostname: 'web-1.example.com' }, EDITOR);
    const M = toRelease.length;

    const events = await waitFor('all events', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= N + M + 2 ? ev : undefined;
    });
    await new Promise((res) => setTimeout(res, 500)); // nothing more arrives
    const all = await eventsIn(dataDir);
    expect(all).toHaveLength(N + M + 2);
    expectExactlyOnce(all);

    const addr = addressEvents(all);
    expect(addr).toHaveLength(N + M);
    expect(addr.map(sig).sort()).toEqual(expectedSigs(allocs, toRelease.map((a) => ({ a })), addr));

    const firstAlloc = addr.find((e) => e.eventType === 'address.allocated' && e.holder === 'vm:vm-0')!;
    expect(firstAlloc).toMatchObject({ cloud: 'c1', zone: 'z', pool: 'p', address: allocs[0]!.address, cidr: `${allocs[0]!.address}/32`, vm: 'vm-0', name: 'default', principal: ALLOCATOR.principal, requestId: 'alloc-0', time: allocs[0]!.allocatedAt });
    for (const e of addr.filter((x) => x.eventType === 'address.released')) {
      expect(e).toMatchObject({ principal: RELEASER.principal, requestId: 'rel', allocatedBy: ALLOCATOR.principal });
      expect(Date.parse(e.time)).toBeGreaterThanOrEqual(releasedAt - 1000);
    }
    expect(all.find((e) => e.eventType === 'pool.created')).toMatchObject({ principal: ADMIN.principal, pool: 'p', ranges: ['10.20.0.0/24'], tags: { team: 'net' } });
    expect(all.find((e) => e.eventType === 'allocation.updated')).toMatchObject({
      principal: EDITOR.principal,
      requestId: 'edit-1',
      time: updated.updatedAt,
      hostname: 'web-1.example.com',
      changes: { hostname: { old: null, new: 'web-1.example.com' } },
    });
    expect(r.lagMs()).toBe(0);
    expect(errors).toEqual([]);

    const cp = JSON.parse(await readFile(path.join(dataDir, CHECKPOINT_FILE), 'utf8'));
    expect(cp).toMatchObject({ version: 1, table });
    // The checkpoint is past the last record with an event (records without events count too).
    const positions = Object.values(cp.shards as Record<string, { sequenceNumber: string }>).map((s) => BigInt(s.sequenceNumber));
    expect(positions.some((p) => p >= BigInt(all.at(-1)!.sequenceNumber!))).toBe(true);
  });

  it('stopped in the middle and started again on the same data dir: nothing lost, nothing repeated', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    const errors: Error[] = [];
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.30.0.0/24'] }, ADMIN);

    let r = await reader({ endpoint: ddbEndpoint(), table, dataDir, batchSize: 7, onError: (e) => errors.push(e) });
    const work = (async () => {
      const a1 = await allocateMany(ipam, 0, 30);
      const rel1 = await releaseMany(ipam, a1.slice(0, 10));
      const a2 = await allocateMany(ipam, 30, 20);
      const rel2 = await releaseMany(ipam, a2.slice(0, 5));
      return { allocs: [...a1, ...a2], rels: [...rel1, ...rel2] };
    })();
    // Stop while changes keep coming.
    await waitFor('some events', async () => (await eventsIn(dataDir)).length >= 10);
    await stopReader(r);
    const atStop = (await eventsIn(dataDir)).length;
    const { allocs, rels } = await work;
    const total = 1 + allocs.length + rels.length;
    expect(atStop).toBeLessThan(total);
    expect((await eventsIn(dataDir)).length).toBe(atStop); // really stopped

    r = await reader({ endpoint: ddbEndpoint(), table, dataDir, batchSize: 7, onError: (e) => errors.push(e) });
    const all = await waitFor('the rest', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= total ? ev : undefined;
    });
    await new Promise((res) => setTimeout(res, 500));
    expect(await eventsIn(dataDir)).toHaveLength(total);
    expectExactlyOnce(all);
    const addr = addressEvents(all);
    expect(addr.map(sig).sort()).toEqual(expectedSigs(allocs, rels.map((a) => ({ a })), addr));
    expect(errors).toEqual([]);
  });

  it('a crash between writing events and saving the checkpoint (and a torn last line) repeats nothing', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.40.0.0/24'] }, ADMIN);
    const allocs = await allocateMany(ipam, 0, 12);
    const errors: Error[] = [];
    let r = await reader({ endpoint: ddbEndpoint(), table, dataDir, batchSize: 5, onError: (e) => errors.push(e) });
    await waitFor('first events', async () => (await eventsIn(dataDir)).length === 13);
    await stopReader(r);
    const checkpointPath = path.join(dataDir, CHECKPOINT_FILE);
    const early = await readFile(checkpointPath, 'utf8');

    await releaseMany(ipam, allocs.slice(0, 6));
    r = await reader({ endpoint: ddbEndpoint(), table, dataDir, batchSize: 5, onError: (e) => errors.push(e) });
    await waitFor('releases', async () => (await eventsIn(dataDir)).length === 19);
    await stopReader(r);
    const final = JSON.parse(await readFile(checkpointPath, 'utf8'));
    const before = await readFile(path.join(dataDir, EVENTS_FILE), 'utf8');
    expect(errors).toEqual([]);

    // The "crash": the events of the last batches are in the file but the checkpoint is older, and the
    // very last write was cut in the middle of a line.
    await writeFile(checkpointPath, early);
    await appendFile(path.join(dataDir, EVENTS_FILE), '{"schemaVersion":1,"eventType":"address.allo');

    r = await reader({ endpoint: ddbEndpoint(), table, dataDir, batchSize: 5, onError: (e) => errors.push(e) });
    await waitFor('the reader to catch up to the old position', async () => {
      const cp = JSON.parse(await readFile(checkpointPath, 'utf8'));
      return JSON.stringify(cp.shards) === JSON.stringify(final.shards);
    });
    await stopReader(r);
    expect(await readFile(path.join(dataDir, EVENTS_FILE), 'utf8')).toBe(before);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/torn last line/)]);
  });

  it('retries from the first failed record until the handler succeeds: every event once, in order', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    const attempts = new Map<string, number>();
    let batchThrows = 1;
    const errors: Error[] = [];
    const r = await reader({
      endpoint: ddbEndpoint(),
      table,
      dataDir,
      batchSize: 10,
      maxBackoffMs: 200,
      onError: (e) => errors.push(e),
      // The Lambda handler with a sink that fails every 4th address event on its first two attempts,
      // and a first invocation that fails as a whole.
      handler: (emit) => {
        const h = createSecurityEventsHandler({
          emit: (e) => {
            const n = (attempts.get(e.eventId) ?? 0) + 1;
            attempts.set(e.eventId, n);
            const idx = [...attempts.keys()].indexOf(e.eventId);
            if (e.eventType.startsWith('address.') && idx % 4 === 0 && n <= 2) throw new Error(`sink refused ${e.eventId}`);
            return emit(e);
          },
        });
        return async (event, context) => {
          if (batchThrows-- > 0) throw new Error('cold start failure');
          return h(event, context);
        };
      },
    });
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.50.0.0/24'] }, ADMIN);
    const allocs = await allocateMany(ipam, 0, 16);
    const rels = await releaseMany(ipam, allocs.slice(0, 8));
    const total = 1 + allocs.length + rels.length;
    const all = await waitFor('all events', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= total ? ev : undefined;
    });
    await new Promise((res) => setTimeout(res, 500));
    expect(await eventsIn(dataDir)).toHaveLength(total);
    expectExactlyOnce(all);
    expect(addressEvents(all).map(sig).sort()).toEqual(expectedSigs(allocs, rels.map((a) => ({ a })), addressEvents(all)));
    expect(errors.some((e) => /whole batch/.test(e.message))).toBe(true);
    expect(errors.some((e) => /failed 1 record\(s\)/.test(e.message))).toBe(true);
    expect(r.lagMs()).toBe(0);
  });
});

describe('stream reader: reading ahead', () => {
  it('reads the next batch while a slow handler works, keeps order, and drops what it read ahead when a batch fails', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    const batches: { size: number; failed: boolean }[] = [];
    let calls = 0;
    const r = await reader({
      endpoint: ddbEndpoint(),
      table,
      dataDir,
      batchSize: 50,
      maxBackoffMs: 100,
      onError: () => undefined,
      handler: (emit) => {
        const h = createSecurityEventsHandler({ emit });
        return async (event, context) => {
          await new Promise((res) => setTimeout(res, 150)); // slow: records arrive meanwhile
          const fail = ++calls % 4 === 2; // every 4th batch fails as a whole, after its reads ahead
          batches.push({ size: event.Records.length, failed: fail });
          if (fail) throw new Error('handler failed');
          return h(event, context);
        };
      },
    });
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.51.0.0/22'] }, ADMIN);
    const allocs = await allocateMany(ipam, 0, 120);
    const total = 1 + allocs.length;
    const all = await waitFor('all events', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= total ? ev : undefined;
    }, 60_000);
    await new Promise((res) => setTimeout(res, 500));
    expect(await eventsIn(dataDir)).toHaveLength(total);
    expectExactlyOnce(all);
    expect(addressEvents(all).map(sig).sort()).toEqual(expectedSigs(allocs, [], []));
    // batches grew past one write's records (4 per allocation): the reads ahead were handed over
    expect(Math.max(...batches.filter((b) => !b.failed).map((b) => b.size))).toBeGreaterThan(8);
    expect(batches.some((b) => b.failed)).toBe(true);
    expect(r.lagMs()).toBe(0);
  });
});

describe('stream reader on DynamoDB Local: pools and address reuse', () => {
  it('pool created/changed/deleted and an address re-allocated over its tombstone, from the real engine', async () => {
    const { ipam, table } = await freshIpam();
    const dataDir = await tempDir();
    const errors: Error[] = [];
    await reader({ endpoint: ddbEndpoint(), table, dataDir, onError: (e) => errors.push(e) });
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.60.0.0/28'], quarantineSeconds: 0 }, ADMIN);
    await ipam.updatePool('c1', 'z', 'p', { addRanges: ['10.60.1.0/28'], tags: { owner: 'sec' } }, EDITOR);
    const a = await ipam.allocate({ cloud: 'c1', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'first' }, address: '10.60.0.5' }, ALLOCATOR);
    await ipam.release('c1', '10.60.0.5', { kind: 'vm', id: 'first' }, RELEASER);
    const b = await ipam.allocate({ cloud: 'c1', zone: 'z', pool: 'p', holder: { kind: 'vip', id: 'lb' }, address: '10.60.0.5' }, { ...ALLOCATOR, requestId: 'again' });
    await ipam.release('c1', '10.60.0.5', undefined, RELEASER);
    await ipam.deletePool('c1', 'z', 'p', { ...EDITOR, requestId: 'delete-1' });

    const all = await waitFor('7 events', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= 7 ? ev : undefined;
    });
    expectExactlyOnce(all);
    expect(all.map((e) => `${e.eventType} ${'holder' in e ? e.holder : ''}`)).toEqual([
      'pool.created ',
      'pool.changed ',
      'address.allocated vm:first',
      'address.released vm:first',
      'address.allocated vip:lb',
      'address.released vip:lb',
      'pool.deleted ',
    ]);
    expect(all[1]).toMatchObject({
      principal: EDITOR.principal,
      ranges: ['10.60.0.0/28', '10.60.1.0/28'],
      changes: { ranges: { added: ['10.60.1.0/28'], removed: [] }, tags: { old: {}, new: { owner: 'sec' } } },
    });
    expect(all[2]).toMatchObject({ address: '10.60.0.5', time: a.allocation.allocatedAt, principal: ALLOCATOR.principal });
    expect(all[4]).toMatchObject({ address: '10.60.0.5', vip: 'lb', time: b.allocation.allocatedAt, requestId: 'again' });
    expect(all[4]).not.toHaveProperty('vm');
    // The engine stamps who deletes a pool before deleting it.
    expect(all[6]).toMatchObject({ eventType: 'pool.deleted', pool: 'p', principal: EDITOR.principal, requestId: 'delete-1' });
    expect(errors).toEqual([]);
  });

  it('refuses to start on a table that does not exist, and leaves nothing open', async () => {
    const dataDir = await tempDir();
    await expect(startStreamReader({ endpoint: ddbEndpoint(), table: 'no-such-table', dataDir })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

// ---------------------------------------------------------------- shard lineage, with a fake Streams API

describe('stream reader shard handling (fake Streams API)', () => {
  const ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2025-01-01T00:00:00.000';

  function rec(n: number): _Record {
    const item = { pk: 'CLOUD#c', sk: `POOL#z#p${n}`, type: 'pool', cloud: 'c', zone: 'z', name: `p${n}`, uid: `u${n}`, family: 4, ranges: [`10.${n}.0.0/24`], exclude: [], tags: {}, metadata: {}, size: '256', epoch: 1, createdAt: '2025-01-01T00:00:00.000Z', createdBy: 'arn:aws:iam::1:role/a', updatedAt: '2025-01-01T00:00:00.000Z', updatedBy: 'arn:aws:iam::1:role/a' };
    return {
      eventID: `ev-${n}`,
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      dynamodb: { ApproximateCreationDateTime: new Date(), Keys: marshall({ pk: item.pk, sk: item.sk }) as never, NewImage: marshall(item) as never, SequenceNumber: String(n * 100).padStart(21, '0'), StreamViewType: 'NEW_AND_OLD_IMAGES' },
    };
  }

  /** P (closed) -> C1 (closed), C2 (open). */
  function fakeStream() {
    const shards = [
      { ShardId: 'P', records: [1, 2, 3].map(rec), closed: true },
      { ShardId: 'C1', ParentShardId: 'P', records: [4, 5].map(rec), closed: true },
      { ShardId: 'C2', ParentShardId: 'P', records: [6].map(rec), closed: false },
    ];
    const log: string[] = [];
    let expireOnce = true;
    const client: StreamsClientLike = {
      async send(cmd: unknown): Promise<never> {
        if (cmd instanceof DescribeStreamCommand) {
          return { StreamDescription: { StreamArn: ARN, Shards: shards.map(({ ShardId, ParentShardId }) => ({ ShardId, ...(ParentShardId ? { ParentShardId } : {}) })) } } as never;
        }
        if (cmd instanceof GetShardIteratorCommand) {
          const i = cmd.input;
          const sh = shards.find((s) => s.ShardId === i.ShardId)!;
          const pos = i.ShardIteratorType === 'TRIM_HORIZON' ? 0 : sh.records.findIndex((r) => BigInt(r.dynamodb!.SequenceNumber!) > BigInt(i.SequenceNumber!));
          log.push(`iterator ${i.ShardId} ${i.ShardIteratorType}`);
          return { ShardIterator: `${i.ShardId}:${pos === -1 ? sh.records.length : pos}` } as never;
        }
        if (cmd instanceof GetRecordsCommand) {
          const [id, p] = cmd.input.ShardIterator!.split(':');
          if (id === 'C1' && expireOnce) {
            expireOnce = false;
            throw Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });
          }
          const sh = shards.find((s) => s.ShardId === id)!;
          const pos = Number(p);
          const batch = sh.records.slice(pos, pos + (cmd.input.Limit ?? 100));
          const next = pos + batch.length;
          log.push(`records ${id} ${batch.length}`);
          const end = sh.closed && next >= sh.records.length;
          return { Records: batch, ...(end ? {} : { NextShardIterator: `${id}:${next}` }) } as never;
        }
        throw new Error(`unexpected command ${String(cmd)}`);
      },
    };
    return { client, log };
  }

  it('reads a parent shard to its end before its children, survives an expired iterator, and resumes after restart', async () => {
    const dataDir = await tempDir();
    const { client, log } = fakeStream();
    const errors: Error[] = [];
    let r = await reader({ endpoint: 'http://unused', table: 't', dataDir, streamArn: ARN, streamsClient: client, batchSize: 2, onError: (e) => errors.push(e) });
    const events = await waitFor('6 events', async () => {
      const ev = await eventsIn(dataDir);
      return ev.length >= 6 ? ev : undefined;
    });
    // C1's last record is written before the poll that finds its end: wait for that poll's checkpoint.
    await waitFor('C1 closed in the checkpoint', async () => {
      const saved = await readFile(path.join(dataDir, CHECKPOINT_FILE), 'utf8').catch(() => '{}');
      return JSON.parse(saved).shards?.C1?.done === true;
    });
    await stopReader(r);
    expect(errors).toEqual([]);
    expect(events.map((e) => e.eventId.replace('ev-', '')).slice(0, 3)).toEqual(['1', '2', '3']);
    expect(events.map((e) => e.eventId).sort()).toEqual(['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5', 'ev-6']);
    const parentEnd = log.lastIndexOf('records P 0') === -1 ? log.lastIndexOf('records P 1') : log.lastIndexOf('records P 0');
    expect(parentEnd).toBeGreaterThanOrEqual(0);
    expect(log.findIndex((l) => /^iterator C/.test(l))).toBeGreaterThan(parentEnd);
    const cp = JSON.parse(await readFile(path.join(dataDir, CHECKPOINT_FILE), 'utf8'));
    expect(cp.streamArn).toBe(ARN);
    expect(cp.shards).toEqual({ P: { sequenceNumber: rec(3).dynamodb!.SequenceNumber, done: true }, C1: { sequenceNumber: rec(5).dynamodb!.SequenceNumber, done: true }, C2: { sequenceNumber: rec(6).dynamodb!.SequenceNumber } });

    // Restarted: closed shards are not read again, the open one continues after its checkpoint.
    log.length = 0;
    r = await reader({ endpoint: 'http://unused', table: 't', dataDir, streamArn: ARN, streamsClient: client, batchSize: 2, onError: (e) => errors.push(e) });
    await waitFor('a poll of C2', async () => log.includes('records C2 0'));
    await stopReader(r);
    expect(log.filter((l) => / (P|C1)( |$)/.test(l))).toEqual([]);
    expect(log).toContain('iterator C2 AFTER_SEQUENCE_NUMBER');
    expect(await eventsIn(dataDir)).toHaveLength(6);
    expect(errors).toEqual([]);
  });
});
