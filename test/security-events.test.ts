/**
 * Security events from hand-built stream records (item shapes of lib/dynamo/store.ts), and the stream
 * handler's partial batch failures. No DynamoDB needed.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSecurityEventsHandler, loggerSink, SECURITY_EVENT_MESSAGE } from '../lib/events/handler.js';
import { SecurityEventSchema, toSecurityEvents, type SecurityEvent } from '../lib/events/security.js';

// ---------------------------------------------------------------- builders

type Item = Record<string, unknown>;
let seq = 100;

const T_ALLOC = '2025-03-01T10:00:00.000Z';
const T_UPDATE = '2025-03-01T11:00:00.000Z';
const T_RELEASE = '2025-03-01T12:00:00.000Z';
const T_REALLOC = '2025-03-02T09:00:00.000Z';
const ALICE = 'arn:aws:iam::111122223333:role/alice';
const BOB = 'arn:aws:sts::111122223333:assumed-role/ops/bob';
const CAROL = 'arn:aws:iam::111122223333:user/carol';
/** 2025-03-01T12:00:05Z in epoch seconds, as Lambda delivers ApproximateCreationDateTime. */
const RECORDED = Date.parse('2025-03-01T12:00:05.000Z') / 1000;

function allocationItem(over: Item = {}): Item {
  const a = {
    cloud: 'prod',
    zone: 'dmz',
    pool: 'web',
    address: '10.0.0.7',
    cidr: '10.0.0.7/32',
    prefixLength: 32,
    family: 4,
    vm: 'vm-123',
    name: 'default',
    mac: '02:00:00:00:00:07',
    tags: { env: 'prod' },
    metadata: {},
    allocatedAt: T_ALLOC,
    allocatedBy: ALICE,
    requestId: 'req-alloc',
    version: 1,
    ...over,
  } as Item;
  const holder = a.vm !== undefined ? `vm#${a.vm}` : `vip#${a.vip}`;
  return {
    pk: 'CHUNK#prod#4:0a000000',
    sk: 'ADDR#07',
    type: 'allocation',
    state: 'allocated',
    poolUid: 'a1b2c3d4e5f60718',
    ...a,
    gsi1pk: `HOLDER#prod#${holder}`,
    gsi1sk: `dmz#web#default#${a.address}`,
  };
}

/** What commitRelease turns an allocation item into. */
function releasedItem(alloc: Item, over: Item = {}): Item {
  const { gsi1pk: _a, gsi1sk: _b, ...rest } = alloc;
  return { ...rest, state: 'released', releasedAt: T_RELEASE, releasedBy: BOB, releaseRequestId: 'req-release', expiresAt: 1_743_500_000, version: Number(alloc.version) + 1, ...over };
}

function poolItem(over: Item = {}): Item {
  return {
    pk: 'CLOUD#prod',
    sk: 'POOL#dmz#web',
    type: 'pool',
    cloud: 'prod',
    zone: 'dmz',
    name: 'web',
    uid: 'a1b2c3d4e5f60718',
    family: 4,
    ranges: ['10.0.0.0/24'],
    exclude: ['10.0.0.0'],
    tags: { team: 'net' },
    metadata: {},
    size: '255',
    epoch: 1,
    shards: 16,
    createdAt: T_ALLOC,
    createdBy: ALICE,
    updatedAt: T_ALLOC,
    updatedBy: ALICE,
    ...over,
  };
}

const keysOf = (i: Item) => ({ pk: i.pk, sk: i.sk });

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { old?: Item; new?: Item; keys?: Item }, extra: Partial<DynamoDBRecord> = {}): DynamoDBRecord {
  const n = ++seq;
  const anyImage = (images.new ?? images.old ?? images.keys)!;
  return {
    eventID: `e${n.toString(16).padStart(31, '0')}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:111122223333:table/ipam/stream/2025-01-01T00:00:00.000',
    dynamodb: {
      ApproximateCreationDateTime: RECORDED,
      Keys: marshall(keysOf(anyImage)) as never,
      ...(images.new ? { NewImage: marshall(images.new) as never } : {}),
      ...(images.old ? { OldImage: marshall(images.old) as never } : {}),
      SequenceNumber: String(n).padStart(21, '0'),
      SizeBytes: 400,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    ...extra,
  };
}

const TTL_IDENTITY = { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } };

function one(r: DynamoDBRecord): SecurityEvent {
  const events = toSecurityEvents(r);
  expect(events).toHaveLength(1);
  // Every event fits the published schema and survives JSON.
  expect(SecurityEventSchema.parse(JSON.parse(JSON.stringify(events[0])))).toEqual(events[0]);
  return events[0]!;
}

// ---------------------------------------------------------------- allocations

describe('address events', () => {
  it('INSERT of an allocation is address.allocated, attributed to allocatedBy at allocatedAt', () => {
    const r = record('INSERT', { new: allocationItem() });
    expect(one(r)).toEqual({
      eventType: 'address.allocated',
      schemaVersion: 1,
      eventId: r.eventID,
      sequenceNumber: r.dynamodb!.SequenceNumber,
      time: T_ALLOC,
      recordedAt: '2025-03-01T12:00:05.000Z',
      principal: ALICE,
      requestId: 'req-alloc',
      cloud: 'prod',
      zone: 'dmz',
      pool: 'web',
      poolUid: 'a1b2c3d4e5f60718',
      address: '10.0.0.7',
      cidr: '10.0.0.7/32',
      prefixLength: 32,
      family: 4,
      holder: 'vm:vm-123',
      vm: 'vm-123',
      name: 'default',
      mac: '02:00:00:00:00:07',
      tags: { env: 'prod' },
    });
  });

  it('the same record always gives the same event (a redelivery is recognisable by eventId)', () => {
    const r = record('INSERT', { new: allocationItem() });
    expect(toSecurityEvents(structuredClone(r))).toEqual(toSecurityEvents(r));
    expect(one(r).eventId).toBe(r.eventID);
  });

  it('allocated -> released is address.released by releasedBy, carrying the holder that gave it up', () => {
    const before = allocationItem({ hostname: 'web-1.example.com' });
    const r = record('MODIFY', { old: before, new: releasedItem(before) });
    const e = one(r);
    expect(e).toMatchObject({
      eventType: 'address.released',
      time: T_RELEASE,
      principal: BOB,
      requestId: 'req-release',
      address: '10.0.0.7',
      cidr: '10.0.0.7/32',
      holder: 'vm:vm-123',
      vm: 'vm-123',
      name: 'default',
      mac: '02:00:00:00:00:07',
      hostname: 'web-1.example.com',
      allocatedAt: T_ALLOC,
      allocatedBy: ALICE,
    });
    expect(e).not.toHaveProperty('detail');
  });

  it('a release without a request id has no requestId (not the allocation one)', () => {
    const before = allocationItem();
    const e = one(record('MODIFY', { old: before, new: releasedItem(before, { releaseRequestId: null }) }));
    expect(e.eventType).toBe('address.released');
    expect(e).not.toHaveProperty('requestId');
  });

  it('a released tombstone overwritten by a new allocation is address.allocated to the NEW holder', () => {
    const tomb = releasedItem(allocationItem());
    const next = allocationItem({ vm: undefined, vip: 'lb-9', name: 'front', mac: undefined, allocatedAt: T_REALLOC, allocatedBy: CAROL, requestId: 'req-2' });
    delete next.vm;
    delete next.mac;
    const e = one(record('MODIFY', { old: tomb, new: next }));
    expect(e).toMatchObject({ eventType: 'address.allocated', time: T_REALLOC, principal: CAROL, requestId: 'req-2', holder: 'vip:lb-9', vip: 'lb-9', name: 'front' });
    expect(e).not.toHaveProperty('vm');
    expect(e).not.toHaveProperty('mac');
  });

  it('allocated -> allocated is allocation.updated by updatedBy, listing what changed', () => {
    const before = allocationItem();
    const after = { ...before, hostname: 'db-1.example.com', tags: { env: 'prod', role: 'db' }, updatedAt: T_UPDATE, updatedBy: CAROL, requestId: 'req-upd', version: 2 };
    delete (after as Item).mac;
    const e = one(record('MODIFY', { old: before, new: after }));
    expect(e).toMatchObject({ eventType: 'allocation.updated', time: T_UPDATE, principal: CAROL, requestId: 'req-upd', holder: 'vm:vm-123', hostname: 'db-1.example.com' });
    expect(e.eventType === 'allocation.updated' && e.changes).toEqual({
      hostname: { old: null, new: 'db-1.example.com' },
      mac: { old: '02:00:00:00:00:07', new: null },
      tags: { old: { env: 'prod' }, new: { env: 'prod', role: 'db' } },
    });
  });

  it("an update without a request id does not claim the allocation's request id", () => {
    const before = allocationItem();
    // The engine copies the previous requestId forward when the update's caller sent none.
    const after = { ...before, hostname: 'x', updatedAt: T_UPDATE, updatedBy: CAROL, version: 2 };
    const e = one(record('MODIFY', { old: before, new: after }));
    expect(e.principal).toBe(CAROL);
    expect(e).not.toHaveProperty('requestId');
  });

  it('a change without a new updatedAt/updatedBy stamp (table edited directly) is flagged, not attributed', () => {
    const before = allocationItem({ updatedAt: T_UPDATE, updatedBy: CAROL, version: 2 });
    const after = { ...before, vm: 'vm-evil', gsi1pk: 'HOLDER#prod#vm#vm-evil' };
    const e = one(record('MODIFY', { old: before, new: after }));
    expect(e).toMatchObject({ eventType: 'allocation.updated', principal: 'unknown', time: '2025-03-01T12:00:05.000Z', holder: 'vm:vm-evil' });
    expect(e.detail).toMatch(/not through the IPAM API/);
    expect(e.eventType === 'allocation.updated' && e.changes).toEqual({ vm: { old: 'vm-123', new: 'vm-evil' } });
  });

  it('TTL deletion of a released tombstone produces nothing', () => {
    const tomb = releasedItem(allocationItem());
    expect(toSecurityEvents(record('REMOVE', { old: tomb }, TTL_IDENTITY))).toEqual([]);
  });

  it('a tombstone edited in place (released -> released) produces nothing', () => {
    const tomb = releasedItem(allocationItem());
    expect(toSecurityEvents(record('MODIFY', { old: tomb, new: { ...tomb, expiresAt: 1 } }))).toEqual([]);
  });

  it('deleting an ALLOCATED item directly from the table is address.released by "unknown", with a detail', () => {
    const e = one(record('REMOVE', { old: allocationItem() }));
    expect(e).toMatchObject({ eventType: 'address.released', principal: 'unknown', time: '2025-03-01T12:00:05.000Z', holder: 'vm:vm-123', allocatedBy: ALICE });
    expect(e.detail).toMatch(/deleted from the table directly/);
  });

  it('IPv6 block allocations keep their CIDR and family', () => {
    const item = allocationItem({ address: '2001:db8::', cidr: '2001:db8::/64', prefixLength: 64, family: 6, mac: undefined });
    delete item.mac;
    item.pk = 'CHUNK#prod#6:20010db8000000000000000000000000';
    item.sk = 'ADDR#00';
    expect(one(record('INSERT', { new: item }))).toMatchObject({ eventType: 'address.allocated', address: '2001:db8::', cidr: '2001:db8::/64', prefixLength: 64, family: 6 });
  });
});

// ---------------------------------------------------------------- pools

describe('pool events', () => {
  it('INSERT is pool.created by createdBy', () => {
    const e = one(record('INSERT', { new: poolItem() }));
    expect(e).toEqual({
      eventType: 'pool.created',
      schemaVersion: 1,
      eventId: expect.any(String),
      sequenceNumber: expect.any(String),
      time: T_ALLOC,
      recordedAt: '2025-03-01T12:00:05.000Z',
      principal: ALICE,
      cloud: 'prod',
      zone: 'dmz',
      pool: 'web',
      poolUid: 'a1b2c3d4e5f60718',
      family: 4,
      ranges: ['10.0.0.0/24'],
      exclude: ['10.0.0.0'],
      size: '255',
      tags: { team: 'net' },
    });
  });

  it('MODIFY is pool.changed by updatedBy with the ranges/exclude/tags/metadata diff', () => {
    const before = poolItem();
    const after = poolItem({ ranges: ['10.0.0.0/24', '10.0.1.0/24'], exclude: [], tags: { team: 'sec' }, metadata: { ticket: 'CHG-1' }, size: '512', epoch: 2, updatedAt: T_UPDATE, updatedBy: BOB });
    const e = one(record('MODIFY', { old: before, new: after }));
    expect(e).toMatchObject({ eventType: 'pool.changed', time: T_UPDATE, principal: BOB, ranges: ['10.0.0.0/24', '10.0.1.0/24'], exclude: [], size: '512' });
    expect(e.eventType === 'pool.changed' && e.changes).toEqual({
      ranges: { old: ['10.0.0.0/24'], new: ['10.0.0.0/24', '10.0.1.0/24'], added: ['10.0.1.0/24'], removed: [] },
      exclude: { old: ['10.0.0.0'], new: [], added: [], removed: ['10.0.0.0'] },
      tags: { old: { team: 'net' }, new: { team: 'sec' } },
      metadata: { old: {}, new: { ticket: 'CHG-1' } },
    });
  });

  it('REMOVE is pool.deleted with the pool as it was; the principal is unknown (a DeleteItem names nobody)', () => {
    const e = one(record('REMOVE', { old: poolItem({ updatedBy: BOB }) }));
    expect(e).toMatchObject({ eventType: 'pool.deleted', principal: 'unknown', time: '2025-03-01T12:00:05.000Z', pool: 'web', ranges: ['10.0.0.0/24'] });
  });

  it('a deletion marker (deletedBy/deletedAt written just before the DeleteItem) names the deleting principal', () => {
    const marked = poolItem({ deletedAt: T_RELEASE, deletedBy: CAROL, deleteRequestId: 'req-del' });
    // The marking MODIFY itself is not an event...
    expect(toSecurityEvents(record('MODIFY', { old: poolItem(), new: marked }))).toEqual([]);
    // ...the REMOVE is, attributed to the marker.
    expect(one(record('REMOVE', { old: marked }))).toMatchObject({ eventType: 'pool.deleted', principal: CAROL, time: T_RELEASE, requestId: 'req-del' });
  });
});

// ---------------------------------------------------------------- a cloud's DNS settings

describe('DNS settings events', () => {
  const settings = (over: Item = {}): Item => ({
    pk: 'CLOUD#prod',
    sk: '#DNS',
    type: 'dnssettings',
    cloud: 'prod',
    primaryNs: 'ns1.example.com',
    primaryNsAddresses: ['192.0.2.53'],
    secondaryNs: [{ name: 'ns2.example.net', addresses: [] }],
    hostmaster: 'hostmaster@example.com',
    updatedAt: T_ALLOC,
    updatedBy: ALICE,
    requestId: 'req-dns-1',
    ...over,
  });

  it('set and changed through the API: dns.settings.changed with who, the settings and what changed', () => {
    expect(one(record('INSERT', { new: settings() }))).toEqual({
      eventType: 'dns.settings.changed',
      schemaVersion: 1,
      eventId: expect.any(String),
      sequenceNumber: expect.any(String),
      time: T_ALLOC,
      recordedAt: '2025-03-01T12:00:05.000Z',
      principal: ALICE,
      requestId: 'req-dns-1',
      cloud: 'prod',
      primaryNs: 'ns1.example.com',
      primaryNsAddresses: ['192.0.2.53'],
      secondaryNs: ['ns2.example.net'],
      hostmaster: 'hostmaster@example.com',
      changes: expect.objectContaining({ primaryNs: { old: null, new: 'ns1.example.com' } }),
    });
    const e = one(record('MODIFY', { old: settings(), new: settings({ primaryNs: 'ns9.evil.example', updatedAt: T_UPDATE, updatedBy: BOB, requestId: 'req-dns-2' }) }));
    expect(e).toMatchObject({ eventType: 'dns.settings.changed', principal: BOB, time: T_UPDATE, requestId: 'req-dns-2', primaryNs: 'ns9.evil.example', changes: { primaryNs: { old: 'ns1.example.com', new: 'ns9.evil.example' } } });
    expect(e).not.toHaveProperty('zone');
  });

  it('changed or deleted in the table directly: reported with the unknown principal and a detail', () => {
    expect(one(record('MODIFY', { old: settings(), new: settings({ hostmaster: 'x@evil.example' }) }))).toMatchObject({ principal: 'unknown', detail: expect.stringMatching(/not through the IPAM API/), changes: { hostmaster: { old: 'hostmaster@example.com', new: 'x@evil.example' } } });
    const gone = one(record('REMOVE', { old: settings() }));
    expect(gone).toMatchObject({ eventType: 'dns.settings.changed', cloud: 'prod', primaryNsAddresses: [], secondaryNs: [], detail: expect.stringMatching(/deleted from the table directly/) });
    expect(gone).not.toHaveProperty('primaryNs');
  });
});

// ---------------------------------------------------------------- everything else

describe('records without security meaning or without images', () => {
  it('cloud, shard, chunk and held items produce nothing', () => {
    const items: Item[] = [
      { pk: 'CLOUD#prod', sk: '#META', type: 'cloud', cloud: 'prod', version: 3 },
      { pk: 'SHARD#a1b2#0', sk: 'SHARD', type: 'shard', poolUid: 'a1b2', index: 0, allocated: 1, seq: 1, epoch: 1 },
      { pk: 'CHUNK#prod#4:0a000000', sk: 'META#a1b2', type: 'chunk', poolUid: 'a1b2', cloud: 'prod', used: new Set([7]), ver: 1 },
      { pk: 'HELD#a1b2#vm#vm-123#default', sk: 'HELD', type: 'held', cloud: 'prod', address: '10.0.0.7', family: 4 },
    ];
    for (const i of items) {
      expect(toSecurityEvents(record('INSERT', { new: i }))).toEqual([]);
      expect(toSecurityEvents(record('MODIFY', { old: i, new: { ...i, x: 1 } }))).toEqual([]);
      expect(toSecurityEvents(record('REMOVE', { old: i }))).toEqual([]);
    }
  });

  it('a KEYS_ONLY record of an allocation is an error (the stream must carry both images)', () => {
    const r = record('INSERT', { keys: allocationItem() });
    expect(() => toSecurityEvents(r)).toThrow(/NEW_AND_OLD_IMAGES/);
  });

  it("accepts DynamoDB Local's and the Streams API's spellings: {} for an empty map, a Date, PascalCase identity", () => {
    const r = record('REMOVE', { old: allocationItem() });
    const old = r.dynamodb!.OldImage as Record<string, unknown>;
    old.metadata = {}; // DynamoDB Local writes an empty map like this
    r.dynamodb!.ApproximateCreationDateTime = new Date('2025-03-01T12:00:00Z') as never;
    r.userIdentity = { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' };
    const e = one(r);
    expect(e).toMatchObject({ eventType: 'address.released', recordedAt: '2025-03-01T12:00:00.000Z', principal: 'dynamodb.amazonaws.com' });
    expect(e.detail).toMatch(/TTL/);
  });
});

// ---------------------------------------------------------------- the handler

describe('createSecurityEventsHandler', () => {
  const batch = () => {
    const a1 = allocationItem();
    const a2 = allocationItem({ address: '10.0.0.8', cidr: '10.0.0.8/32', vm: 'vm-2', mac: undefined });
    delete a2.mac;
    a2.sk = 'ADDR#08';
    return [
      record('INSERT', { new: poolItem() }),
      record('INSERT', { new: { pk: 'CLOUD#prod', sk: '#META', type: 'cloud', version: 1 } }),
      record('INSERT', { new: a1 }),
      record('INSERT', { new: a2 }),
      record('MODIFY', { old: a1, new: releasedItem(a1) }),
      record('REMOVE', { old: releasedItem(a2) }, TTL_IDENTITY),
      record('MODIFY', { old: poolItem(), new: poolItem({ tags: {}, updatedAt: T_UPDATE, updatedBy: BOB }) }),
    ];
  };

  it('emits every event of a batch in stream order and reports no failure', async () => {
    const Records = batch();
    const emitted: SecurityEvent[] = [];
    let calls = 0;
    const handler = createSecurityEventsHandler({
      // Later calls finish sooner: parallel processing would reorder the events.
      emit: async (e) => {
        await new Promise((r) => setTimeout(r, Math.max(0, 12 - 3 * calls++)));
        emitted.push(e);
      },
    });
    expect(await handler({ Records })).toEqual({ batchItemFailures: [] });
    expect(emitted.map((e) => e.eventType)).toEqual(['pool.created', 'address.allocated', 'address.allocated', 'address.released', 'pool.changed']);
    expect(emitted.map((e) => e.eventId)).toEqual([Records[0], Records[2], Records[3], Records[4], Records[6]].map((r) => r!.eventID));
  });

  it('reports exactly the records whose emit failed; every other event is emitted', async () => {
    const Records = batch();
    const failOn = new Set([Records[2]!.eventID, Records[6]!.eventID]);
    const emitted: string[] = [];
    const handler = createSecurityEventsHandler({
      emit: async (e) => {
        await new Promise((r) => setTimeout(r, 1));
        if (failOn.has(e.eventId)) throw new Error(`sink down for ${e.eventId}`);
        emitted.push(e.eventId);
      },
    });
    const res = await handler({ Records });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: Records[2]!.dynamodb!.SequenceNumber }, { itemIdentifier: Records[6]!.dynamodb!.SequenceNumber }]);
    expect(emitted).toEqual([Records[0], Records[3], Records[4]].map((r) => r!.eventID));
  });

  it('reports a record it cannot map (and tells onRecordError), and goes on with the others', async () => {
    const Records = [record('INSERT', { new: allocationItem() }), record('INSERT', { keys: allocationItem() }), record('INSERT', { new: poolItem() })];
    const emitted: string[] = [];
    const errors: string[] = [];
    const handler = createSecurityEventsHandler({ emit: (e) => void emitted.push(e.eventType), onRecordError: (err, r) => errors.push(`${r.eventID}: ${(err as Error).message}`) });
    const res = await handler({ Records });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: Records[1]!.dynamodb!.SequenceNumber }]);
    expect(emitted).toEqual(['address.allocated', 'pool.created']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(Records[1]!.eventID);
  });

  it('throws when every record fails, so that Lambda retries (and bisects) the batch', async () => {
    const Records = batch().slice(2, 4);
    const handler = createSecurityEventsHandler({
      emit: () => {
        throw new Error('down');
      },
    });
    await expect(handler({ Records })).rejects.toMatchObject({ name: 'FullBatchFailureError' });
  });

  it('an empty batch is fine', async () => {
    const handler = createSecurityEventsHandler({ emit: () => undefined });
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
  });
});

describe('loggerSink', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one JSON line per event with the event fields at the top level', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const logger = new Logger({ serviceName: 'ipam', logLevel: 'INFO' });
    const Records = [record('INSERT', { new: allocationItem() }), record('MODIFY', { old: poolItem(), new: poolItem({ tags: {}, updatedAt: T_UPDATE, updatedBy: BOB }) })];
    const res = await createSecurityEventsHandler({ emit: loggerSink(logger) })({ Records });
    vi.restoreAllMocks();
    expect(res.batchItemFailures).toEqual([]);
    const out = lines.join('').trim().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(2);
    for (const [i, line] of out.entries()) {
      expect(line).toMatchObject({ level: 'INFO', message: SECURITY_EVENT_MESSAGE, service: 'ipam', eventId: Records[i]!.eventID });
      expect(typeof line.timestamp).toBe('string');
      // Everything but Powertools' own keys is exactly the event.
      const { level: _l, message: _m, timestamp: _t, service: _s, sampling_rate: _r, xray_trace_id: _x, ...event } = line;
      expect(SecurityEventSchema.parse(event)).toEqual(toSecurityEvents(Records[i]!)[0]);
    }
    expect(out[0]).toMatchObject({ eventType: 'address.allocated', principal: ALICE, address: '10.0.0.7', holder: 'vm:vm-123' });
    expect(out[1]).toMatchObject({ eventType: 'pool.changed', principal: BOB, changes: { tags: { old: { team: 'net' }, new: {} } } });
  });
});
