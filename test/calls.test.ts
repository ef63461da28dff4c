/**
 * DynamoDB calls per operation (issue 14), counted by a middleware on the store's client, on the
 * store as the local service runs it (read-after-write barrier on): what a lookup and a release cost,
 * alone and under concurrency (group commit of releases, one shared barrier read); an allocation by zone.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ReadBarrier } from '../lib/dynamo/barrier.js';
import { DynamoStore } from '../lib/dynamo/store.js';
import { keys } from '../lib/dynamo/keys.js';
import { parseAddress } from '../lib/core/ip.js';
import { Ipam, type EngineOptions } from '../lib/engine/ipam.js';
import type { Store } from '../lib/engine/store.js';
import { ctx, freshIpam, reasonOf } from './support.js';

/**
 * An engine over a barrier store whose DynamoDB calls are counted by command (a GetItem of a pool
 * definition also as `pool reads`). `onCall` sees each command as it is sent; `wrap` may put something
 * between the engine and the store.
 */
async function countedIpam(opts: EngineOptions = {}, hooks: { onCall?: (command: string, input: { Key?: { sk?: string } }) => void; wrap?: (s: Store) => Store } = {}) {
  const { doc, table } = await freshIpam();
  const calls: Record<string, number> = {};
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName as string;
      calls[command] = (calls[command] ?? 0) + 1;
      const input = args.input as { Key?: { sk?: string } };
      if (command === 'GetItemCommand' && String(input.Key?.sk).startsWith('POOL#')) calls['pool reads'] = (calls['pool reads'] ?? 0) + 1;
      hooks.onCall?.(command, input);
      return next(args);
    },
    { step: 'initialize', name: 'callCounter' },
  );
  const store = new DynamoStore(doc, table, { readAfterWrite: true });
  // Pool definitions stay cached through each test: a re-read would be counted.
  const ipam = new Ipam(hooks.wrap ? hooks.wrap(store) : store, { poolCacheMs: 600_000, ...opts });
  const since = () => {
    const before = { ...calls };
    return () => Object.fromEntries(Object.entries(calls).map(([k, n]) => [k, n - (before[k] ?? 0)]).filter(([, n]) => n !== 0));
  };
  return { ipam, doc, table, since };
}

async function allocateMany(ipam: Ipam, pool: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await ipam.allocate({ cloud: 'c', zone: 'z', pool, holder: { kind: 'vm', id: `vm-${i}` } }, ctx)).allocation);
  return out;
}

describe('DynamoDB calls per operation, with the read-after-write barrier', () => {
  it('a lookup that hits is one GetItem; a free address adds the Query of its chunk and one of the cloud (a prefix pool made elsewhere)', async () => {
    const { ipam, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const held = await allocateMany(ipam, 'p', 3);
    const look = since();
    for (const a of held) expect((await ipam.lookup('c', a.address)).vm).toBe(a.vm);
    expect(look()).toEqual({ GetItemCommand: 3 });
    const free = since();
    const spare = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].find((x) => !held.some((a) => a.address === x))!;
    expect(await reasonOf(ipam.lookup('c', spare))).toBe('AllocationNotFound');
    expect(free()).toEqual({ GetItemCommand: 1, QueryCommand: 2 });
  });

  it("a lookup inside a prefix pool's block is two GetItems once the cloud's pools are cached", async () => {
    const { ipam, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'v6', { ranges: ['2001:db8:900::/48'], prefixLength: 64 }, ctx);
    const a = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'v6', holder: { kind: 'vm', id: 'k' } }, ctx)).allocation;
    const inner = a.address.replace(/::$/, ':1:2:3:4');
    expect((await ipam.lookup('c', inner)).cidr).toBe(a.cidr);
    const warm = since();
    expect((await ipam.lookup('c', inner)).cidr).toBe(a.cidr);
    expect(warm()).toEqual({ GetItemCommand: 2 });
  });

  it('concurrent lookups share reads: one BatchGetItem for those that wait while reads are in flight', async () => {
    const { ipam, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/22'] }, ctx);
    const held = await allocateMany(ipam, 'p', 32);
    const look = since();
    const found = await Promise.all([...held, ...held].map((a) => ipam.lookup('c', a.address)));
    expect(found.map((a) => a.vm)).toEqual([...held, ...held].map((a) => a.vm));
    const calls = look();
    console.log(`64 concurrent lookups: ${JSON.stringify(calls)}`);
    expect(Object.keys(calls).filter((k) => !['GetItemCommand', 'BatchGetItemCommand'].includes(k))).toEqual([]);
    expect((calls.GetItemCommand ?? 0) + (calls.BatchGetItemCommand ?? 0)).toBeLessThanOrEqual(16);
    // a lookup that waited still reads after it arrived: a release acknowledged before it is seen
    await ipam.release('c', held[0]!.address, undefined, ctx);
    const after = await Promise.all(held.map((a) => ipam.lookup('c', a.address).then((x) => x.vm, (e) => e.reason)));
    expect(after).toEqual(['AllocationNotFound', ...held.slice(1).map((a) => a.vm)]);
  });

  it('a release alone: the lookup, one transaction, one barrier read', async () => {
    const { ipam, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const held = await allocateMany(ipam, 'p', 5);
    const release = since();
    for (const a of held) await ipam.release('c', a.address, undefined, ctx);
    expect(release()).toEqual({ GetItemCommand: 5 * 2, TransactWriteItemsCommand: 5 });
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
  });

  it('concurrent releases of a pool share transactions and barrier reads, and each is recorded as its own', async () => {
    const { ipam, doc, table, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/22'] }, ctx);
    const held = await allocateMany(ipam, 'p', 32);
    const release = since();
    const done = await Promise.all(held.map((a, i) => ipam.release('c', a.address, { kind: 'vm', id: a.vm! }, { principal: `p-${i}`, requestId: `r-${i}` })));
    const calls = release();
    expect(done.map((a) => a.address)).toEqual(held.map((a) => a.address));
    const tx = calls.TransactWriteItemsCommand!;
    const reads = (calls.GetItemCommand ?? 0) + (calls.BatchGetItemCommand ?? 0);
    // alone, each would be a lookup, a transaction and a barrier read: 96 calls
    expect(tx).toBeLessThanOrEqual(16);
    expect(reads).toBeLessThanOrEqual(24);
    expect(Object.keys(calls).filter((k) => !['GetItemCommand', 'BatchGetItemCommand', 'TransactWriteItemsCommand'].includes(k))).toEqual([]);
    console.log(`32 concurrent releases: ${JSON.stringify(calls)}`);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
    for (const [i, a] of held.entries()) {
      const item = (await doc.send(new GetCommand({ TableName: table, Key: keys.allocation('c', 4, parseAddress(a.address).value) }))).Item!;
      expect(item).toMatchObject({ state: 'released', releasedBy: `p-${i}`, releaseRequestId: `r-${i}` });
      expect(await reasonOf(ipam.lookup('c', a.address))).toBe('AllocationNotFound');
    }
  });

  it('grouped releases sharing a chunk all go into quarantine; the same address twice is released once', async () => {
    const { ipam, since } = await countedIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'q', { ranges: ['10.9.0.0/28'], quarantineSeconds: 600 }, ctx);
    const held = await allocateMany(ipam, 'q', 12);
    // the same address twice, with others: released once, the other call finds nothing
    const twice = await Promise.all([held[0]!, held[1]!, held[0]!, held[2]!].map((a) => ipam.release('c', a.address, undefined, ctx).then(() => 'released', (e) => e.reason)));
    expect(twice.sort()).toEqual(['AllocationNotFound', 'released', 'released', 'released']);
    const release = since();
    await Promise.all(held.slice(3).map((a) => ipam.release('c', a.address, undefined, ctx)));
    expect(release().TransactWriteItemsCommand).toBeLessThan(9);
    expect((await ipam.getPool('c', 'z', 'q')).allocated).toBe('0');
    // every released address is in quarantine: asked for by name, each is refused as such
    for (const [i, a] of held.entries()) {
      const e = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'q', holder: { kind: 'vm', id: 'again' }, name: `n${i}`, address: a.address }, ctx).catch((x) => x);
      expect(e.reason, a.address).toBe('AddressTaken');
      expect(e.message).toContain('quarantine');
    }
  });
});

describe('grouped releases and uniqueness claims', () => {
  it('a group gives up each member\'s MAC and hostname, so others may take them at once', async () => {
    const { ipam, since } = await countedIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'm', { ranges: ['10.7.0.0/24'], dns: { domain: 'calls.example.com' } }, ctx);
    const mac = (i: number) => `02:00:00:00:07:${i.toString(16).padStart(2, '0')}`;
    const held = [];
    for (let i = 0; i < 10; i++) held.push((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'm', holder: { kind: 'vm', id: `old-${i}` }, mac: mac(i), hostname: `h${i}` }, ctx)).allocation);
    const taken = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'm', holder: { kind: 'vm', id: 'new-0' }, mac: mac(0) }, ctx).catch((e) => e.reason);
    expect(taken).toBe('MacTaken');
    const release = since();
    await Promise.all(held.map((a) => ipam.release('c', a.address, undefined, ctx)));
    expect(release().TransactWriteItemsCommand).toBeLessThan(10);
    for (let i = 0; i < 10; i++) {
      const again = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'm', holder: { kind: 'vm', id: `new-${i}` }, mac: mac(i), hostname: `h${i}` }, ctx);
      expect(again.created).toBe(true);
    }
  });
});

describe('cached pools and cloud snapshots under concurrency (issue 14)', () => {
  /** A clock the test moves; `past(ms)` jumps it forward. */
  const clock = () => {
    let t = Date.now();
    return { now: () => t, past: (ms: number) => void (t += ms) };
  };

  it('allocations while the pool cache expires: one shared pool read per expiry, and no cloud Query for the answers', async () => {
    const c = clock();
    let jump = false;
    // The pool definition expires while the first barrier read is on its way: the answers after it
    // find the pool's cache entry (and the cloud snapshot) expired.
    const onCall = (command: string, input: { Key?: { sk?: string } }) => {
      if (jump && command === 'GetItemCommand' && String(input.Key?.sk).startsWith('ADDR#')) {
        jump = false;
        c.past(6000);
      }
    };
    const { ipam, since } = await countedIpam({ poolCacheMs: 5000, now: c.now }, { onCall });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/16'] }, ctx);
    c.past(6000);
    jump = true;
    const count = since();
    const done = await Promise.all(Array.from({ length: 32 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `vm-${i}` } }, ctx)));
    const calls = count();
    console.log(`32 concurrent allocations across a pool cache expiry: ${JSON.stringify(calls)}`);
    expect(new Set(done.map((d) => d.allocation.address)).size).toBe(32);
    expect(done.every((d) => d.created && d.allocation.network === undefined)).toBe(true);
    // before: each slot holder read the pool, and each answer after the expiry read the cloud partition
    expect(calls.QueryCommand ?? 0).toBe(0);
    expect(calls['pool reads']).toBeLessThanOrEqual(2);
  });

  it('answers of a pool in a network after the snapshot expired: one shared Query of the cloud partition', async () => {
    const c = clock();
    const { ipam, since } = await countedIpam({ poolCacheMs: 5000, now: c.now });
    await ipam.createNetwork('c', 'z', 'lan', { cidr: '10.1.0.0/24', gateway: '10.1.0.1', mtu: 1500 }, ctx);
    await ipam.createPool('c', 'z', 'n', { ranges: ['10.1.0.0/24'], network: 'lan' }, ctx);
    const held = await allocateMany(ipam, 'n', 16);
    expect(held.every((a) => a.network?.gateway === '10.1.0.1')).toBe(true);
    c.past(6000);
    const look = since();
    const found = await Promise.all([...held, ...held].map((a) => ipam.lookup('c', a.address)));
    const lookCalls = look();
    console.log(`32 concurrent lookups after the snapshot expired: ${JSON.stringify(lookCalls)}`);
    expect(found.every((a) => a.network?.mtu === 1500)).toBe(true);
    expect(lookCalls.QueryCommand).toBe(1); // before: one per lookup
    c.past(6000);
    const alloc = since();
    const more = await Promise.all(Array.from({ length: 32 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'n', holder: { kind: 'vm', id: `more-${i}` } }, ctx)));
    const allocCalls = alloc();
    console.log(`32 concurrent allocations in a network pool after the cache expired: ${JSON.stringify(allocCalls)}`);
    expect(more.every((d) => d.allocation.network?.gateway === '10.1.0.1')).toBe(true);
    expect(allocCalls.QueryCommand).toBe(1);
    expect(allocCalls['pool reads']).toBe(1);
  });

  it('a read in flight when a change is written does not put the old snapshot back', async () => {
    const c = clock();
    let gate: { open: () => void; reached: Promise<void>; arrived: () => void } | undefined;
    const hold = () => {
      let open!: () => void;
      let arrived!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      const reached = new Promise<void>((r) => (arrived = r));
      gate = { open, reached, arrived };
      return opened;
    };
    let opened: Promise<void> | undefined;
    // The next listPools (only that one) is answered from DynamoDB now, but handed back when the test opens the gate.
    const wrap = (s: Store): Store =>
      new Proxy(s, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (prop !== 'listPools' || !opened) return typeof v === 'function' ? v.bind(target) : v;
          const wait = opened;
          opened = undefined;
          return async (...a: unknown[]) => {
            const r = await (v as (...x: unknown[]) => Promise<unknown>).apply(target, a);
            gate!.arrived();
            await wait;
            return r;
          };
        },
      });
    const { ipam, since } = await countedIpam({ poolCacheMs: 5000, now: c.now }, { wrap });
    await ipam.createNetwork('c', 'z', 'lan', { cidr: '10.1.0.0/24', mtu: 1500 }, ctx);
    await ipam.createPool('c', 'z', 'n', { ranges: ['10.1.0.0/24'], network: 'lan' }, ctx);
    const [a] = await allocateMany(ipam, 'n', 1);
    c.past(6000);
    opened = hold();
    const before = ipam.lookup('c', a!.address); // reads the snapshot (mtu 1500): held at the gate
    await gate!.reached;
    await ipam.updateNetwork('c', 'z', 'lan', { mtu: 9000 }, ctx);
    // After the change: not the read that started before it
    expect((await ipam.lookup('c', a!.address)).network?.mtu).toBe(9000);
    gate!.open();
    expect((await before).network?.mtu).toBe(1500); // it began before the change: either answer is right; this one is older
    const count = since();
    expect((await ipam.lookup('c', a!.address)).network?.mtu).toBe(9000);
    expect(count().QueryCommand ?? 0).toBe(0); // the newer snapshot stayed cached
  });
});

describe('allocation by zone', () => {
  it('costs one more read than a pool allocation (the zone claim); a repeat is that read and its allocation; a full pool passes on after its counters', async () => {
    const { ipam, since } = await countedIpam();
    await ipam.createPool('c', 'z', 'a', { ranges: ['10.8.0.0-10.8.0.1'] }, ctx);
    await ipam.createPool('c', 'z', 'b', { ranges: ['10.8.1.0/24'] }, ctx);
    await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: { kind: 'vm', id: 'warm' } }, ctx); // reads the cloud's pools once
    const first = since();
    const got = await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: { kind: 'vm', id: 'z-1' } }, ctx);
    expect(got).toMatchObject({ created: true, allocation: { pool: 'a', byZone: true } });
    // the claim (BatchGetItem), the transaction, its barrier read
    expect(first()).toEqual({ BatchGetItemCommand: 1, TransactWriteItemsCommand: 1, GetItemCommand: 1 });
    const repeat = since();
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: { kind: 'vm', id: 'z-1' } }, ctx)).allocation.address).toBe(got.allocation.address);
    expect(repeat()).toEqual({ BatchGetItemCommand: 1, GetItemCommand: 1 });
    // a is full: its counters say so, then the next pool
    const next = since();
    expect((await ipam.allocateInZone({ cloud: 'c', zone: 'z', holder: { kind: 'vm', id: 'z-2' } }, ctx)).allocation.pool).toBe('b');
    const calls = next();
    // the claim and a's counters (BatchGetItem each; a's chunk is known full), a's holder claim (GetItem), b's transaction and barrier read
    expect(calls).toEqual({ BatchGetItemCommand: 2, GetItemCommand: 2, TransactWriteItemsCommand: 1 });
  });
});

describe('the shared read barrier (lib/dynamo/barrier.ts)', () => {
  /** A read that is answered when the test says so; records when each read was sent. */
  function reads() {
    const sent: { key: string; answer: (ok: boolean) => void }[] = [];
    const read = (key: string) => new Promise<void>((res, rej) => sent.push({ key, answer: (ok) => (ok ? res() : rej(new Error('read failed'))) }));
    return { sent, read };
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('answers a caller only after a read sent after its call; callers that arrive meanwhile share the next read', async () => {
    const { sent, read } = reads();
    const b = new ReadBarrier(read);
    const done: string[] = [];
    const pass = (k: string) => b.pass(k).then(() => done.push(k));
    void pass('a');
    await tick();
    expect(sent.map((s) => s.key)).toEqual(['a']);
    // b and c arrive while a's read is in flight: it may have been sent before their writes were answered
    void pass('b');
    void pass('c');
    await tick();
    expect(sent).toHaveLength(1);
    sent[0]!.answer(true);
    await tick();
    expect(done).toEqual(['a']);
    expect(sent.map((s) => s.key)).toEqual(['a', 'b']); // one read for both, sent after a's ended
    void pass('d'); // arrives while b's read is in flight: waits for a third
    sent[1]!.answer(true);
    await tick();
    expect(done).toEqual(['a', 'b', 'c']);
    expect(sent).toHaveLength(3);
    sent[2]!.answer(true);
    await tick();
    expect(done).toEqual(['a', 'b', 'c', 'd']);
    void pass('e'); // nothing in flight: a read at once
    await tick();
    expect(sent).toHaveLength(4);
    sent[3]!.answer(true);
    await tick();
    expect(done).toHaveLength(5);
  });

  it('a failed read fails the callers it was for, and the barrier goes on', async () => {
    const { sent, read } = reads();
    const b = new ReadBarrier(read);
    const first = b.pass('a');
    const second = b.pass('b');
    sent[0]!.answer(false);
    await expect(first).rejects.toThrow('read failed');
    await tick();
    sent[1]!.answer(true);
    await expect(second).resolves.toBeUndefined();
    const third = b.pass('c');
    await tick();
    sent[2]!.answer(true);
    await expect(third).resolves.toBeUndefined();
  });
});
