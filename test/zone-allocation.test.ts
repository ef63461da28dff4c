/**
 * Allocation by zone (issue 15, part 2): `POST /v1/clouds/{cloud}/zones/{zone}/allocations` picks a pool
 * of the zone with room, idempotent per (zone, holder, name). Against DynamoDB Local: the engine (stale
 * claims, repair, group commit), then the local service over real signed HTTP (concurrency, filters,
 * zone scoping, the CLI, environments).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type IpamClient } from '../lib/client/client.js';
import { keys } from '../lib/dynamo/keys.js';
import { repairTable } from '../lib/dynamo/repair.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import { DMZ_ONLY, startService, type RunningService } from './service.js';
import { clientConfig, ctx, ddbEndpoint, freshIpam, reasonOf } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const vm = (id: string) => ({ kind: 'vm' as const, id });

/** The zone claims (`ZHELD#{cloud}#{zone}#…`) stored in a table, by holder and name. */
async function zoneClaims(doc: DynamoDBDocumentClient, table: string, cloud: string, zone: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let start: Record<string, unknown> | undefined;
  do {
    const r = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': `ZHELD#${cloud}#${zone}#` }, ExclusiveStartKey: start }));
    for (const i of r.Items ?? []) out.set(`${i.vm !== undefined ? `vm:${i.vm}` : `vip:${i.vip}`} ${i.name}`, i.address);
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

describe('allocation by zone (engine)', () => {
  it('group commit: concurrent zone allocations share transactions, each with its own zone claim', async () => {
    const { ipam, doc, table } = await freshIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.40.0.0/24'] }, ctx);
    const got = await Promise.all(Array.from({ length: 30 }, (_, i) => ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm(`g${i}`), name: 'eth0', hostname: `g${i}` }, ctx)));
    expect(got.every((r) => r.created && r.allocation.byZone === true && r.allocation.pool === 'p')).toBe(true);
    expect(new Set(got.map((r) => r.allocation.address)).size).toBe(30);
    const claims = await zoneClaims(doc, table, 'c', 'z');
    expect(claims).toEqual(new Map(got.map((r, i) => [`vm:g${i} eth0`, r.allocation.address])));
    // Grouped releases give every zone claim up with its address.
    await Promise.all(got.map((r) => ipam.release('c', r.allocation.address, undefined, ctx)));
    expect((await zoneClaims(doc, table, 'c', 'z')).size).toBe(0);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
  });

  it('a stale zone claim (its allocation gone without it) heals: the next request allocates afresh', async () => {
    const { ipam, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.41.0.0/24'] }, ctx);
    const first = (await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('s') }, ctx)).allocation;
    const key = keys.zoneHeld('c', 'z', vm('s'), 'default');
    const claim = (await doc.send(new GetCommand({ TableName: table, Key: key }))).Item!;
    await ipam.release('c', first.address, undefined, ctx);
    expect((await zoneClaims(doc, table, 'c', 'z')).size).toBe(0);
    // What a release by an older version (or a replica's leftover) leaves: the address released, its zone claim still there.
    const stale = () => doc.send(new PutCommand({ TableName: table, Item: claim }));
    await stale();
    expect(await zoneClaims(doc, table, 'c', 'z')).toEqual(new Map([['vm:s default', first.address]]));
    expect(await ipam.heldInZone('c', 'z', vm('s'), 'default')).toBeUndefined();
    expect((await zoneClaims(doc, table, 'c', 'z')).size).toBe(0); // dropped on the way
    await stale();
    const again = await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('s') }, ctx);
    expect(again.created).toBe(true);
    expect(again.allocation.allocatedAt > first.allocatedAt).toBe(true);
    expect(await zoneClaims(doc, table, 'c', 'z')).toEqual(new Map([['vm:s default', again.allocation.address]]));
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('s') }, ctx)).allocation.address).toBe(again.allocation.address);
  });

  it('repair recreates a missing zone claim and deletes one that points at nothing', async () => {
    const { ipam, store, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.42.0.0/24'] }, ctx);
    const a = (await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'eth0' }, ctx)).allocation;
    const key = keys.zoneHeld('c', 'z', vm('r'), 'eth0');
    const item = (await doc.send(new GetCommand({ TableName: table, Key: key }))).Item!;
    expect(item).toMatchObject({ type: 'zoneholder', zone: 'z', vm: 'r', name: 'eth0', address: a.address, pool: 'p' });
    await doc.send(new DeleteCommand({ TableName: table, Key: key }));
    const stray = keys.zoneHeld('c', 'z', vm('ghost'), 'eth0');
    await doc.send(new PutCommand({ TableName: table, Item: { ...item, ...stray, vm: 'ghost', address: '10.42.0.250' } }));
    expect(await repairTable(store)).toMatchObject({ uniqueCreated: 1, uniqueDeleted: 1, uniqueConflicts: 0 });
    expect((await doc.send(new GetCommand({ TableName: table, Key: key }))).Item).toMatchObject({ type: 'zoneholder', address: a.address });
    expect((await doc.send(new GetCommand({ TableName: table, Key: stray }))).Item).toBeUndefined();
    // The repaired claim answers the repeat, even though another pool now comes first.
    await ipam.createPool('c', 'z', 'a-first', { ranges: ['10.43.0.0/24'] }, ctx);
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'eth0' }, ctx)).allocation.address).toBe(a.address);
    expect(await repairTable(store)).toMatchObject({ uniqueCreated: 0, uniqueDeleted: 0 });
  });

  it('skips a pool being imported', async () => {
    const { ipam, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'a', { ranges: ['10.46.0.0/24'] }, ctx);
    await ipam.createPool('c', 'z', 'b', { ranges: ['10.46.1.0/24'] }, ctx);
    // What a bulk import's fence looks like to allocators (lib/engine/import.ts).
    await doc.send(new UpdateCommand({ TableName: table, Key: keys.pool('c', 'z', 'a'), UpdateExpression: 'SET importing = :t', ExpressionAttributeValues: { ':t': true } }));
    const fresh = new Ipam(new DynamoStore(doc, table));
    expect((await fresh.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('i') }, ctx)).allocation.pool).toBe('b');
    const e = await fresh.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('j'), pools: ['a'] }, ctx).catch((x) => x);
    expect(e).toMatchObject({ reason: 'PoolExhausted' });
    expect(e.message).toContain('a: being imported');
  });

  it('prefix pools: a /64 by zone from a /48, its repeat, a MAC on it, its release', async () => {
    const { ipam, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'hosts', { ranges: ['10.47.0.0/24'] }, ctx);
    await ipam.createPool('c', 'z', 'v6-64', { ranges: ['2001:db8:47::/48'], prefixLength: 64 }, ctx);
    await ipam.createPool('c', 'z', 'v4-30', { ranges: ['10.48.0.0/16'], prefixLength: 30, prefixPool: true }, ctx);
    // An address: the address pool comes first (IPv4, by name: hosts < v4-30).
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('h') }, ctx)).allocation).toMatchObject({ pool: 'hosts', prefixLength: 32 });
    // A /64: only the prefix pool of /64 blocks can hand one out. A /30: the address pool can (first by name), and the /30 pool.
    const block = await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'delegated', prefixLength: 64, mac: '02:00:00:00:47:01' }, ctx);
    expect(block).toMatchObject({ created: true, allocation: { pool: 'v6-64', prefixLength: 64, byZone: true } });
    expect(block.allocation.cidr).toMatch(/^2001:db8:47:[0-9a-f:]*\/64$/);
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'link', prefixLength: 30 }, ctx)).allocation).toMatchObject({ pool: 'hosts', prefixLength: 30 });
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'link2', prefixLength: 30, pools: ['v4-30', 'hosts'] }, ctx)).allocation).toMatchObject({ pool: 'v4-30', prefixLength: 30 });
    expect(await reasonOf(ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'link3', prefixLength: 29, pools: ['v4-30'] }, ctx))).toBe('PoolExhausted'); // a /30 pool hands out /30s only
    // The repeat finds the block through its zone claim (the record is keyed by the pool's block), and so does a MAC conflict.
    const again = await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('r'), name: 'delegated', prefixLength: 64 }, ctx);
    expect(again).toMatchObject({ created: false, allocation: { cidr: block.allocation.cidr } });
    expect(await reasonOf(ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('s'), prefixLength: 64, mac: '02:00:00:00:47:01' }, ctx))).toBe('MacTaken');
    expect((await zoneClaims(doc, table, 'c', 'z')).get('vm:r delegated')).toBe(block.allocation.address);
    await ipam.release('c', block.allocation.address, undefined, ctx);
    expect((await zoneClaims(doc, table, 'c', 'z')).has('vm:r delegated')).toBe(false);
    expect(await reasonOf(ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('t'), prefixLength: 56 }, ctx))).toBe('PoolExhausted');
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const { ipam, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.44.0.0/24'] }, ctx);
    const bad: unknown[] = [{ pools: [] }, { pools: ['p', 'p'] }, { pools: ['P!'] }, { pools: { tags: 'x' } }, { pools: { names: ['p'] } }, { family: 5 }, { address: '10.44.0.9' }, { name: 'a b' }, { tags: { ['__proto__']: 'x' } }];
    for (const extra of bad) expect(await reasonOf(ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('b'), ...(extra as object) }, ctx)), JSON.stringify(extra)).toMatch(/InvalidInput|ReservedKey/);
    // Hostile keys in the tag filter are ordinary keys.
    await ipam.createPool('c', 'z', 'q', { ranges: ['10.45.0.0/24'], tags: { constructor: 'yes' } }, ctx);
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('b'), pools: { tags: { constructor: 'yes' } } }, ctx)).allocation.pool).toBe('q');
    expect(await reasonOf(ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: vm('c'), pools: { tags: { toString: 'x' } } }, ctx))).toBe('InvalidInput');
    expect((await zoneClaims(doc, table, 'c', 'z')).size).toBe(1);
  });
});

describe('allocation by zone over HTTP', () => {
  const C = 'c1'; // DMZ_ONLY (test/service.ts) may call clouds/c1/zones/dmz/* only
  let svc: RunningService;
  let admin: IpamClient;
  let doc: DynamoDBDocumentClient;
  const table = `za-${randomBytes(4).toString('hex')}`;
  const claims = (zone: string) => zoneClaims(doc, table, C, zone);
  const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => e);

  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_TABLE: table });
    admin = svc.client();
    doc = documentClient(clientConfig());
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('three pools, the first tiny: 40 concurrent allocations for distinct VMs all succeed, the first pool fills, the rest follow in order', async () => {
    await admin.createPool(C, 'order', 'a-tiny', { ranges: ['10.50.0.0/30'] }); // 4 addresses
    await admin.createPool(C, 'order', 'b-small', { ranges: ['10.50.1.0/28'] }); // 16
    await admin.createPool(C, 'order', 'c-big', { ranges: ['10.50.2.0/24'] });
    await admin.createPool(C, 'order', 'a0-v6', { ranges: ['fd50::/120'] }); // first by name, but IPv6 comes after IPv4
    await admin.createPool(C, 'other', 'x', { ranges: ['10.51.0.0/24'] }); // another zone: never a candidate
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => admin.allocateInZone(C, 'order', { vm: `vm-${i}`, name: 'eth0' })));
    expect(got.map((r) => r.created)).toEqual(Array(40).fill(true));
    const addresses = got.map((r) => r.allocation.address);
    expect(new Set(addresses).size).toBe(40);
    const per = (pool: string) => got.filter((r) => r.allocation.pool === pool).length;
    expect({ a: per('a-tiny'), b: per('b-small'), c: per('c-big'), v6: per('a0-v6') }).toEqual({ a: 4, b: 16, c: 20, v6: 0 });
    for (const r of got) {
      expect(r.allocation).toMatchObject({ zone: 'order', byZone: true, name: 'eth0' });
      expect(r.allocation.address).toMatch(/^10\.50\.[0-2]\.\d+$/);
    }
    expect(await admin.getPool(C, 'order', 'a-tiny')).toMatchObject({ allocated: '4', free: '0' });
    expect(await admin.getPool(C, 'order', 'b-small')).toMatchObject({ allocated: '16', free: '0' });
    expect((await admin.getPool(C, 'other', 'x')).allocated).toBe('0');
    // One zone claim per allocation, pointing at it.
    expect(await claims('order')).toEqual(new Map(got.map((r, i) => [`vm:vm-${i} eth0`, r.allocation.address])));
    // IPv6 only when asked for (or when every IPv4 pool is full).
    const v6 = await admin.allocateInZone(C, 'order', { vm: 'six', family: 6 });
    expect(v6.allocation).toMatchObject({ pool: 'a0-v6', family: 6 });
    // Released concurrently (grouped releases), every zone claim goes with its address.
    await Promise.all(got.map((r) => admin.release(C, r.allocation.address, { vm: r.allocation.vm! })));
    expect((await claims('order')).size).toBe(1);
    expect((await admin.getPool(C, 'order', 'a-tiny')).allocated).toBe('0');
  });

  it('exhaustion: 409 PoolExhausted naming the zone and its pools tried, and nothing else', async () => {
    await admin.createPool(C, 'full', 'f-one', { ranges: ['10.52.0.0-10.52.0.1'] });
    await admin.createPool(C, 'full', 'f-six', { ranges: ['fd52::/126'] });
    await admin.createPool(C, 'elsewhere', 'roomy', { ranges: ['10.53.0.0/24'] });
    for (const id of ['f1', 'f2']) expect((await admin.allocateInZone(C, 'full', { vm: id, family: 4 })).allocation.pool).toBe('f-one');
    const e = await errorOf(admin.allocateInZone(C, 'full', { vm: 'f3', family: 4 }));
    expect(e).toMatchObject({ status: 409, problem: { reason: 'PoolExhausted', details: { zone: 'full', pools: ['f-one'] } } });
    expect(e!.problem.detail).toContain('zone full');
    expect(e!.problem.detail).toContain('f-six: IPv6, not IPv4');
    expect(JSON.stringify(e!.problem)).not.toMatch(/roomy|elsewhere|10\.53/);
    // A prefix length no pool of the zone can hand out.
    const big = await errorOf(admin.allocateInZone(C, 'full', { vm: 'f4', prefixLength: 64 }));
    expect(big).toMatchObject({ status: 409, problem: { reason: 'PoolExhausted' } });
    expect(big!.problem.detail).toContain('cannot hand out a /64');
    expect(await errorOf(admin.allocateInZone(C, 'empty-zone', { vm: 'f5' }))).toMatchObject({ status: 409, problem: { reason: 'PoolExhausted' } });
    expect((await claims('full')).size).toBe(2);
  });

  it('pools in preference order and a tag filter; the top-level tags stay the allocation’s own', async () => {
    await admin.createPool(C, 'pref', 'p-one', { ranges: ['10.54.0.0/24'], tags: { tier: 'web' } });
    await admin.createPool(C, 'pref', 'p-two', { ranges: ['10.54.1.0/24'], tags: { tier: 'web', site: 'x' } });
    await admin.createPool(C, 'pref', 'p-three', { ranges: ['10.54.2.0/24'], tags: { tier: 'db' } });
    await admin.createPool(C, 'pref', 'p-six', { ranges: ['fd54::/120'], tags: { tier: 'web' } });
    await admin.createPool(C, 'other-pref', 'p-four', { ranges: ['10.55.0.0/24'], tags: { tier: 'web', site: 'y' } });
    const pick = async (id: string, body: object) => (await admin.allocateInZone(C, 'pref', { vm: id, ...body })).allocation;
    expect((await pick('o1', {})).pool).toBe('p-one');
    expect((await pick('o2', { pools: ['p-three', 'p-one'] })).pool).toBe('p-three');
    expect((await pick('o3', { pools: ['p-six', 'p-one'] })).pool).toBe('p-six');
    const tagged = await pick('o4', { pools: { tags: { tier: 'web' } }, tags: { owner: 'team-a' } });
    expect(tagged).toMatchObject({ pool: 'p-one', tags: { owner: 'team-a' } });
    expect((await pick('o5', { pools: { tags: { tier: 'web', site: 'x' } } })).pool).toBe('p-two');
    expect((await pick('o6', { pools: { tags: { tier: 'web' } }, family: 6 })).pool).toBe('p-six');
    const block = await pick('o7', { pools: ['p-two'], prefixLength: 28 });
    expect(block).toMatchObject({ pool: 'p-two', prefixLength: 28 });
    expect(block.cidr).toMatch(/^10\.54\.1\.\d+\/28$/);
    // A name that is no pool of the zone: 400 naming it (another zone's p-four is answered like a name never used).
    const unknown = await errorOf(pick('o8', { pools: ['p-one', 'p-four'] }));
    const never = await errorOf(pick('o8', { pools: ['p-one', 'p-never'] }));
    expect(unknown).toMatchObject({ status: 400, problem: { reason: 'InvalidInput' } });
    expect(unknown!.problem.detail).toContain('p-four');
    expect(JSON.stringify(unknown!.problem).replaceAll('p-four', 'X')).toBe(JSON.stringify(never!.problem).replaceAll('p-never', 'X'));
    const none = await errorOf(pick('o8', { pools: { tags: { site: 'y' } } }));
    expect(none).toMatchObject({ status: 400, problem: { reason: 'InvalidInput' } });
    expect(none!.problem.detail).toContain('site=y');
    expect(JSON.stringify(none!.problem)).not.toContain('p-four');
    const address = (await errorOf(admin.request('POST', `/v1/clouds/${C}/zones/pref/allocations`, { body: { vm: 'o8', address: '10.54.0.9' } }))) as ApiError;
    expect(address).toMatchObject({ status: 400 });
    expect(address.problem.detail).toContain("through its pool's route");
    for (const body of [{ vm: 'o8', pools: [] }, { vm: 'o8', family: 5 }, { vip: 'o8', vm: 'o8' }, { vm: 'o8', pools: { tags: { a: 'b' }, extra: 1 } }]) {
      expect((await errorOf(admin.request('POST', `/v1/clouds/${C}/zones/pref/allocations`, { body })))?.status, JSON.stringify(body)).toBe(400);
    }
    expect([...(await claims('pref')).keys()].sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7'].map((id) => `vm:${id} default`));
  });

  it('idempotent under concurrency: 20 identical requests get one address and exactly one 201, also when they race across pools', async () => {
    await admin.createPool(C, 'idem', 'i-a', { ranges: ['10.56.0.0/28'] });
    await admin.createPool(C, 'idem', 'i-b', { ranges: ['10.56.1.0/24'] });
    const same = await Promise.all(Array.from({ length: 20 }, () => admin.allocateInZone(C, 'idem', { vm: 'same', name: 'eth0', hostname: 'same' })));
    expect(new Set(same.map((r) => r.allocation.address)).size).toBe(1);
    expect(same.filter((r) => r.created)).toHaveLength(1);
    expect(same[0]!.allocation.pool).toBe('i-a');
    // Across pools: six holders, ten requests each, all at once, half of them preferring i-a and half i-b.
    // Both pools have room, so each holder's requests commit in both pools at once: the zone claim in
    // their transactions lets exactly one win, and the others answer the winner's allocation.
    const holders = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5'];
    const raced = await Promise.all(holders.flatMap((h) => Array.from({ length: 10 }, (_, i) => admin.allocateInZone(C, 'idem', { vm: h, name: 'eth0', pools: i % 2 ? ['i-a', 'i-b'] : ['i-b', 'i-a'] }).then((r) => ({ h, ...r })))));
    for (const h of holders) {
      const mine = raced.filter((r) => r.h === h);
      expect(new Set(mine.map((r) => r.allocation.address)).size, h).toBe(1);
      expect(mine.filter((r) => r.created), h).toHaveLength(1);
    }
    const addresses = holders.map((h) => raced.find((r) => r.h === h)!.allocation);
    expect(new Set(addresses.map((a) => a.address)).size).toBe(6);
    const allocated = async (pool: string) => Number((await admin.getPool(C, 'idem', pool)).allocated);
    expect((await allocated('i-a')) + (await allocated('i-b'))).toBe(7);
    expect(await claims('idem')).toEqual(new Map([['vm:same eth0', same[0]!.allocation.address], ...addresses.map((a) => [`vm:${a.vm} eth0`, a.address] as [string, string])]));
    // A repeat with a field given another value: 409 IdempotentParameterMismatch naming it; a filter is no such field.
    expect(await errorOf(admin.allocateInZone(C, 'idem', { vm: 'same', name: 'eth0', hostname: 'other' }))).toMatchObject({ status: 409, problem: { reason: 'IdempotentParameterMismatch' } });
    expect(await errorOf(admin.allocateInZone(C, 'idem', { vm: 'same', name: 'eth0', family: 6 }))).toMatchObject({ status: 409, problem: { reason: 'IdempotentParameterMismatch' } });
    const filtered = await admin.allocateInZone(C, 'idem', { vm: 'same', name: 'eth0', pools: ['i-b'] });
    expect(filtered).toMatchObject({ created: false, allocation: { address: same[0]!.allocation.address, pool: 'i-a' } });
  });

  it('a repeat after the first-choice pool gains room still answers the original; release, then allocate again', async () => {
    await admin.createPool(C, 'room', 'r-a', { ranges: ['10.57.0.0-10.57.0.1'] });
    await admin.createPool(C, 'room', 'r-b', { ranges: ['10.57.1.0/24'] });
    const f1 = (await admin.allocateInZone(C, 'room', { vm: 'f1' })).allocation;
    expect((await admin.allocateInZone(C, 'room', { vm: 'f2' })).allocation.pool).toBe('r-a');
    const late = await admin.allocateInZone(C, 'room', { vm: 'late', mac: '52:54:00:57:00:01' });
    expect(late).toMatchObject({ created: true, allocation: { pool: 'r-b' } });
    await admin.release(C, f1.address, { vm: 'f1' }); // r-a has room again
    const repeat = await admin.allocateInZone(C, 'room', { vm: 'late' });
    expect(repeat).toMatchObject({ created: false, allocation: { address: late.allocation.address, pool: 'r-b', mac: '52:54:00:57:00:01' } });
    // Released (by address here, by holder below), the claim goes with it: the next request allocates afresh, from r-a.
    await admin.release(C, late.allocation.address, { vm: 'late' });
    expect((await claims('room')).has('vm:late default')).toBe(false);
    const anew = await admin.allocateInZone(C, 'room', { vm: 'late', mac: '52:54:00:57:00:01' });
    expect(anew).toMatchObject({ created: true, allocation: { pool: 'r-a', address: f1.address } });
    expect((await admin.releaseHolder(C, 'vm', 'late')).map((a) => a.address)).toEqual([f1.address]);
    expect((await claims('room')).has('vm:late default')).toBe(false);
    // A pool-route allocation of the same holder and name is not the zone route's: that one is its own.
    const byPool = await admin.allocate(C, 'room', 'r-b', { vm: 'late' });
    const byZone = await admin.allocateInZone(C, 'room', { vm: 'late' });
    expect(byZone).toMatchObject({ created: true, allocation: { pool: 'r-a', byZone: true } });
    expect(byPool.allocation.byZone).toBeUndefined();
  });

  it('a dmz-only caller allocates only from its zone: another zone’s pools are never candidates nor named', async () => {
    await admin.createPool(C, 'dmz', 'd-one', { ranges: ['10.58.0.0-10.58.0.1'], tags: { tier: 'front' } });
    await admin.createPool(C, 'web', 'w-one', { ranges: ['10.59.0.0/24'], tags: { tier: 'backend' } });
    const dmz = svc.client(DMZ_ONLY);
    expect((await dmz.allocateInZone(C, 'dmz', { vm: 'd1' })).allocation).toMatchObject({ zone: 'dmz', pool: 'd-one' });
    expect((await dmz.allocateInZone(C, 'dmz', { vm: 'd2', pools: { tags: { tier: 'front' } } })).allocation.pool).toBe('d-one');
    // Full: 409, not an address of zone web.
    const full = await errorOf(dmz.allocateInZone(C, 'dmz', { vm: 'd3' }));
    expect(full).toMatchObject({ status: 409, problem: { reason: 'PoolExhausted' } });
    const other = await errorOf(dmz.allocateInZone(C, 'dmz', { vm: 'd3', pools: ['w-one'] }));
    const never = await errorOf(dmz.allocateInZone(C, 'dmz', { vm: 'd3', pools: ['w-two'] }));
    expect(other).toMatchObject({ status: 400 });
    expect(JSON.stringify(other!.problem).replaceAll('w-one', 'X')).toBe(JSON.stringify(never!.problem).replaceAll('w-two', 'X'));
    const tagged = await errorOf(dmz.allocateInZone(C, 'dmz', { vm: 'd3', pools: { tags: { tier: 'backend' } } }));
    expect(tagged).toMatchObject({ status: 400 });
    for (const e of [full, tagged]) expect(JSON.stringify(e!.problem)).not.toMatch(/w-one|10\.59|zone web/);
    expect((await errorOf(dmz.allocateInZone(C, 'web', { vm: 'd3' })))?.status).toBe(403);
    expect((await admin.getPool(C, 'web', 'w-one')).allocated).toBe('0');
    expect((await claims('web')).size).toBe(0);
  });

  it('the CLI: `ipam allocate CLOUD ZONE` without a pool, with --pools, --pool-tag and --family', async () => {
    await admin.createPool(C, 'cli', 'c-one', { ranges: ['10.60.0.0-10.60.0.1'], tags: { tier: 'web' } });
    await admin.createPool(C, 'cli', 'c-two', { ranges: ['10.60.1.0/24'], tags: { tier: 'db' } });
    await admin.createPool(C, 'cli', 'c-six', { ranges: ['fd60::/120'] });
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', svc.url, '--callers-file', svc.callersFile, ...args], { cwd: ROOT }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const first = await run('allocate', C, 'cli', '--vm', 'k1', '--name', 'eth0', '-q');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toMatch(/^10\.60\.0\.[01]$/);
    expect((await run('allocate', C, 'cli', '--vm', 'k1', '--name', 'eth0', '-q')).stdout.trim()).toBe(first.stdout.trim());
    const json = JSON.parse((await run('-o', 'json', 'allocate', C, 'cli', '--vm', 'k2', '--pools', 'c-two,c-one')).stdout);
    expect(json).toMatchObject({ pool: 'c-two', zone: 'cli', byZone: true });
    expect((await run('allocate', C, 'cli', '--vm', 'k3', '--pool-tag', 'tier=db', '-q')).stdout.trim()).toMatch(/^10\.60\.1\./);
    expect((await run('allocate', C, 'cli', '--vm', 'k4', '--family', '6', '-q')).stdout.trim()).toMatch(/^fd60::/);
    // With POOL it is the pool route, as before.
    expect((await run('allocate', C, 'cli', 'c-two', '--vm', 'k5', '-q')).stdout.trim()).toMatch(/^10\.60\.1\./);
    // Usage errors are 2; an unknown pool is 2; every pool full is 4.
    expect((await run('allocate', C, 'cli', 'c-two', '--vm', 'k6', '--pools', 'c-one')).code).toBe(2);
    expect((await run('allocate', C, 'cli', '--vm', 'k6', '--address', '10.60.1.9')).code).toBe(2);
    expect((await run('allocate', C, 'cli', '--vm', 'k6', '--family', '5')).code).toBe(2);
    expect((await run('allocate', C, 'cli', '--vm', 'k6', '--pool-tag', 'oops')).code).toBe(2);
    const unknown = await run('allocate', C, 'cli', '--vm', 'k6', '--pools', 'c-nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('c-nope');
    expect((await run('allocate', C, 'cli', '--vm', 'k6', '--pools', 'c-one')).code).toBe(0);
    const full = await run('allocate', C, 'cli', '--vm', 'k7', '--pools', 'c-one');
    expect(full.code).toBe(4);
    expect(full.stderr).toContain('PoolExhausted');
  });

  it('environments: a slot with a zone and no pool allocates by zone, idempotently, and releases its claims', async () => {
    await admin.createPool(C, 'envz', 'e-a', { ranges: ['10.61.0.0-10.61.0.1'] });
    await admin.createPool(C, 'envz', 'e-b', { ranges: ['10.61.1.0/24'] });
    const envPath = `/v1/clouds/${C}/environments/shopz`;
    const spec = { slots: { web: { zone: 'envz', vm: 'ev', count: 3 }, db: { zone: 'envz', pool: 'e-b', vm: 'edb' } } };
    const first = await admin.request<any>('PUT', envPath, { body: spec });
    expect(first.status).toBe(201);
    // Its three addresses, allocated concurrently, fill e-a and go on in e-b.
    expect(first.body.slots.web).toMatchObject({ zone: 'envz', count: 3 });
    expect([...first.body.slots.web.pools].sort()).toEqual(['e-a', 'e-b']);
    expect(first.body.slots.web.pool).toBe(first.body.slots.web.pools[0]);
    expect(first.body.slots.web.addresses).toHaveLength(3);
    expect(first.body.slots.db).toMatchObject({ zone: 'envz', pool: 'e-b' });
    expect(first.body.slots.db.pools).toBeUndefined();
    expect((await admin.request<any>('PUT', envPath, { body: spec })).status).toBe(200);
    expect((await admin.request<any>('GET', envPath)).body).toEqual(first.body);
    const held = await admin.byHolder(C, 'vm', 'ev');
    expect(held.map((a) => a.name).sort()).toEqual(['shopz.web-1', 'shopz.web-2', 'shopz.web-3']);
    expect(held.every((a) => a.byZone === true && a.tags['ipam:environment'] === 'shopz')).toBe(true);
    expect((await claims('envz')).size).toBe(3);
    // A zone's environment: no zone and no pool in the slot.
    const zoned = await admin.request<any>('PUT', `/v1/clouds/${C}/zones/envz/environments/small`, { body: { slots: { w: { vm: 'zv' } } } });
    expect(zoned.status).toBe(201);
    expect(zoned.body.slots.w).toMatchObject({ zone: 'envz', pool: 'e-b' });
    // A specific address needs the slot's pool.
    const pinned = await errorOf(admin.request('PUT', `/v1/clouds/${C}/environments/pinned`, { body: { slots: { w: { zone: 'envz', vm: 'p', address: '10.61.1.77' } } } }));
    expect(pinned).toMatchObject({ status: 400 });
    expect(pinned!.problem.detail).toContain("slot's pool");
    expect((await admin.request<any>('DELETE', envPath)).body.released).toHaveLength(4);
    expect((await admin.request<any>('DELETE', `/v1/clouds/${C}/zones/envz/environments/small`)).body.released).toHaveLength(1);
    expect((await claims('envz')).size).toBe(0);
    expect(await admin.getPool(C, 'envz', 'e-a')).toMatchObject({ allocated: '0' });
  });

  it('is in the route table and the OpenAPI document, for the zone pipeline role', async () => {
    const doc = (await admin.request<any>('GET', '/v1/openapi.json')).body;
    const op = doc.paths['/v1/clouds/{cloud}/zones/{zone}/allocations'].post;
    expect(op.operationId).toBe('allocateInZone');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '409']));
    expect(JSON.stringify(doc.components.schemas.ZoneAllocationRequest)).toContain('pools');
  });
});
