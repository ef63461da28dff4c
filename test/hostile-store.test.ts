/**
 * Issue 12, items 2-4, on the engine and DynamoDB Local: object-prototype names are ordinary data,
 * IPv4 in IPv6 clothing is refused, and a quarantine outlives the pool that set it.
 */
import { describe, expect, it } from 'vitest';
import { Ipam } from '../lib/engine/ipam.js';
import { Environments } from '../lib/engine/environments.js';
import { TTL_ATTRIBUTE } from '../lib/dynamo/table.js';
import type { Json } from '../lib/core/model.js';
import { ctx, freshIpam, reasonOf } from './support.js';

const PROTO_NAMES = ['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'toLocaleString'] as const;

/** An object with every prototype name as a key at every depth (as JSON.parse builds it: own keys). */
function nested(depth: number): Record<string, Json> {
  const o: Record<string, Json> = {};
  for (const k of PROTO_NAMES) o[k] = depth === 0 ? `${k}-value` : k === 'constructor' ? nested(depth - 1) : [k, { [k]: depth }];
  return JSON.parse(JSON.stringify(o));
}

describe('object-prototype names are data (issue 12, item 2)', () => {
  it('round-trips them as tag keys and metadata keys at every depth, on pools and allocations', async () => {
    const { ipam } = await freshIpam();
    const tags = Object.fromEntries(PROTO_NAMES.map((k) => [k, k.toUpperCase()]));
    const metadata = nested(5);
    const { pool } = await ipam.createPool('constructor', 'prototype', 'tostring', { ranges: ['10.0.0.0/28'], tags, metadata }, ctx);
    expect(pool.tags).toEqual(tags);
    expect((await ipam.getPool('constructor', 'prototype', 'tostring')).metadata).toEqual(metadata);
    expect((await ipam.createPool('constructor', 'prototype', 'tostring', { ranges: ['10.0.0.0/28'], tags, metadata }, ctx)).created).toBe(false);
    const a = (await ipam.allocate({ cloud: 'constructor', zone: 'prototype', pool: 'tostring', holder: { kind: 'vm', id: 'constructor' }, name: '__proto__', tags, metadata }, ctx)).allocation;
    const read = await ipam.lookup('constructor', a.address);
    expect(read.tags).toEqual(tags);
    expect(read.metadata).toEqual(metadata);
    expect(read.name).toBe('__proto__');
    expect(Object.getPrototypeOf(read.tags)).toBe(Object.prototype);
    const patched = await ipam.updateAllocation('constructor', a.address, { tags: { valueOf: '1' }, metadata: { hasOwnProperty: { constructor: null } } }, ctx);
    expect(await ipam.lookup('constructor', a.address)).toEqual(patched);
    expect(patched.metadata).toEqual({ hasOwnProperty: { constructor: null } });
    const pp = await ipam.updatePool('constructor', 'prototype', 'tostring', { tags: { constructor: 'c' }, metadata: { toString: [{ valueOf: 1 }] } }, ctx);
    expect(pp.tags).toEqual({ constructor: 'c' });
    expect((await ipam.byHolder('constructor', { kind: 'vm', id: 'constructor' })).map((x) => x.address)).toEqual([a.address]);
  });

  it('refuses __proto__ as a key at any depth with ReservedKey, writing nothing', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/28'] }, ctx);
    const proto = (json: string) => JSON.parse(json);
    const base = { cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm' as const, id: 'v' } };
    expect(await reasonOf(ipam.allocate({ ...base, tags: proto('{"__proto__":"x"}') }, ctx))).toBe('ReservedKey');
    expect(await reasonOf(ipam.allocate({ ...base, metadata: proto('{"a":[{"b":{"__proto__":{"polluted":1}}}]}') }, ctx))).toBe('ReservedKey');
    expect(await reasonOf(ipam.createPool('c', 'z', 'q', { ranges: ['10.1.0.0/28'], metadata: proto('{"__proto__":1}') }, ctx))).toBe('ReservedKey');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'p', { tags: proto('{"__proto__":"x"}') }, ctx))).toBe('ReservedKey');
    expect((await ipam.listPools('c')).map((p) => [p.name, p.allocated, p.tags])).toEqual([['p', '0', {}]]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('applies, reads and releases an environment whose slots are named like prototype members', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/27'] }, ctx);
    const envs = new Environments(ipam, store);
    const slots = Object.fromEntries(PROTO_NAMES.map((k, i) => [k, { zone: 'z', pool: 'p', vm: k, ...(i % 2 ? { count: 2 } : {}) }]));
    const { view } = await envs.apply('c', 'constructor', { slots }, ctx);
    expect(Object.keys(view.slots).sort()).toEqual([...PROTO_NAMES].sort());
    expect(view.slots['constructor']!.addresses).toHaveLength(1);
    expect(view.slots.prototype!.addresses).toHaveLength(2);
    expect(await envs.get('c', 'constructor')).toEqual(view);
    expect((await envs.apply('c', 'constructor', { slots }, ctx)).created).toBe(false);
    await envs.release('c', 'constructor', ctx);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
  });

  it('group commit: a member whose transaction cannot be built never fails the others', async () => {
    const { ipam, store } = await freshIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    // A record the store refuses to send (a value the marshaller cannot take) in the middle of a group.
    const realBulk = store.commitBulk.bind(store);
    let groups = 0;
    store.commitBulk = (c) => {
      groups++;
      return realBulk({ ...c, allocations: c.allocations.map((a, i) => (i === 1 ? { ...a, metadata: { bad: Symbol('x') as never } } : a)) });
    };
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `v${i}` } }, ctx)));
    expect(groups).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const addresses = results.map((r) => (r as PromiseFulfilledResult<{ allocation: { address: string } }>).value.allocation.address);
    expect(new Set(addresses).size).toBe(30);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('30');
  });
});

describe('IPv4-mapped and -compatible IPv6 (issue 12, item 3)', () => {
  it('refuses them as ranges, excludes, requested addresses and lookups, naming the IPv4 form', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z4', 'v4', { ranges: ['10.52.0.0/24'] }, ctx);
    await ipam.createPool('c', 'z6', 'v6', { ranges: ['2001:db8::/120'] }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z4', pool: 'v4', holder: { kind: 'vm', id: 'a' }, address: '10.52.0.112' }, ctx);
    const err = await ipam.createPool('c', 'z6', 'mapped', { ranges: ['::ffff:10.52.0.0/120'] }, ctx).catch((e) => e);
    expect(err.reason).toBe('MappedAddress');
    expect(err.message).toContain('10.52.0.0/24');
    for (const ranges of [['::ffff:a34:0/120'], ['::10.52.0.0/120'], ['::/32'], ['::1'], ['::fffe:ffff:ff00-::1:0:0:ff'], ['0:0:0:0:0:FFFF:10.52.0.112']]) {
      expect(await reasonOf(ipam.createPool('c', 'z6', 'mapped', { ranges }, ctx)), ranges[0]).toBe('MappedAddress');
    }
    expect(await reasonOf(ipam.createPool('c', 'z6', 'ex', { ranges: ['2001:db8:1::/120'], exclude: ['::ffff:10.52.0.1'] }, ctx))).toBe('MappedAddress');
    expect(await reasonOf(ipam.updatePool('c', 'z6', 'v6', { addRanges: ['::ffff:10.52.0.0/120'] }, ctx))).toBe('MappedAddress');
    const wanted = await ipam.allocate({ cloud: 'c', zone: 'z6', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '::ffff:10.52.0.112' }, ctx).catch((e) => e);
    expect(wanted.reason).toBe('MappedAddress');
    expect(wanted.message).toContain('10.52.0.112');
    expect(await reasonOf(ipam.lookup('c', '::ffff:10.52.0.112'))).toBe('MappedAddress');
    expect(await reasonOf(ipam.release('c', '::ffff:10.52.0.112', undefined, ctx))).toBe('MappedAddress');
    expect((await ipam.lookup('c', '10.52.0.112')).vm).toBe('a');
    expect((await ipam.listPools('c')).map((p) => p.name).sort()).toEqual(['v4', 'v6']);
  });
});

describe('quarantine is a property of the address in the cloud (issue 12, item 4)', () => {
  for (const groupCommit of [0, 4]) {
    it(`survives deleting the pool and a new pool over the same space in another zone (group commit ${groupCommit})`, async () => {
      let now = Date.now();
      const { ipam, store } = await freshIpam({ now: () => now, groupCommit });
      await ipam.createPool('c', 'a', 'old', { ranges: ['10.95.0.0/29'], quarantineSeconds: 3600 }, ctx);
      await ipam.allocate({ cloud: 'c', zone: 'a', pool: 'old', holder: { kind: 'vm', id: 'x' }, address: '10.95.0.3' }, ctx);
      await ipam.release('c', '10.95.0.3', undefined, ctx);
      await ipam.deletePool('c', 'a', 'old', ctx);
      // A new engine too: nothing it knows comes from the old pool's chunk items or a cache.
      const other = new Ipam(store, { now: () => now, groupCommit });
      await other.createPool('c', 'b', 'new', { ranges: ['10.95.0.0/29'] }, ctx);
      const asked = await other.allocate({ cloud: 'c', zone: 'b', pool: 'new', holder: { kind: 'vm', id: 'y' }, address: '10.95.0.3' }, ctx).catch((e) => e);
      expect(asked.reason).toBe('AddressTaken');
      expect(asked.message).toContain('quarantine');
      const got = await Promise.all(Array.from({ length: 7 }, (_, i) => other.allocate({ cloud: 'c', zone: 'b', pool: 'new', holder: { kind: 'vm', id: `n${i}` } }, ctx)));
      const addresses = got.map((g) => g.allocation.address);
      expect(addresses).not.toContain('10.95.0.3');
      expect(new Set(addresses).size).toBe(7);
      expect(await reasonOf(other.allocate({ cloud: 'c', zone: 'b', pool: 'new', holder: { kind: 'vm', id: 'late' } }, ctx))).toBe('PoolExhausted');
      now += 3601_000;
      expect((await other.allocate({ cloud: 'c', zone: 'b', pool: 'new', holder: { kind: 'vm', id: 'late' } }, ctx)).allocation.address).toBe('10.95.0.3');
    });
  }

  it('keeps quarantines longer than the 30-day tombstone alive: the tombstone expires after its quarantine', async () => {
    const { ipam, doc, table } = await freshIpam();
    await ipam.createPool('c', 'a', 'p', { ranges: ['10.96.0.0/30'], quarantineSeconds: 200 * 24 * 3600 }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'a', pool: 'p', holder: { kind: 'vm', id: 'x' }, address: '10.96.0.1' }, ctx);
    const before = Math.floor(Date.now() / 1000);
    await ipam.release('c', '10.96.0.1', undefined, ctx);
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const items = (await doc.send(new ScanCommand({ TableName: table }))).Items ?? [];
    const tomb = items.find((i) => i.state === 'released')!;
    expect(Number(tomb.quarantineUntil)).toBeGreaterThan(Date.now() + 199 * 24 * 3600 * 1000);
    expect(Number(tomb[TTL_ATTRIBUTE])).toBeGreaterThan(before + 200 * 24 * 3600);
  });
});
