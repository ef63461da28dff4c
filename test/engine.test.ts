import { describe, expect, it } from 'vitest';
import { IpamError } from '../lib/core/errors.js';
import { Ipam } from '../lib/engine/ipam.js';
import { ctx, freshIpam, reasonOf } from './support.js';

describe('pools', () => {
  it('creates a pool from CIDR, span and single ranges minus excludes, and reports its size', async () => {
    const { ipam } = await freshIpam();
    const { pool, created } = await ipam.createPool('c1', 'dmz', 'web', { ranges: ['10.0.0.0/24', '10.1.0.10-10.1.0.99', '10.2.0.5'], exclude: ['10.0.0.0', '10.0.0.255'] }, ctx);
    expect(created).toBe(true);
    expect(pool).toMatchObject({ cloud: 'c1', zone: 'dmz', name: 'web', family: 4, size: String(256 + 90 + 1 - 2), allocated: '0', free: String(345) });
    expect(pool.ranges).toEqual(['10.0.0.0/24', '10.1.0.10-10.1.0.99', '10.2.0.5']);
    expect(pool.createdBy).toBe(ctx.principal);
  });

  it('is idempotent for an identical definition and refuses a different one', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c1', 'z', 'p', { ranges: ['10.0.0.0/24'], tags: { a: 'b' } }, ctx);
    const again = await ipam.createPool('c1', 'z', 'p', { ranges: ['10.0.0.0/24'], tags: { a: 'b' } }, ctx);
    expect(again.created).toBe(false);
    expect(await reasonOf(ipam.createPool('c1', 'z', 'p', { ranges: ['10.0.0.0/25'] }, ctx))).toBe('PoolExists');
  });

  it('refuses overlap with another pool of the same cloud, naming it only within its zone, and allows it across clouds', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c1', 'z1', 'a', { ranges: ['10.0.0.0/16'] }, ctx);
    const err = await ipam.createPool('c1', 'z2', 'b', { ranges: ['10.0.5.0/24'] }, ctx).catch((e) => e);
    expect(err).toBeInstanceOf(IpamError);
    expect(err.reason).toBe('Overlap');
    expect(err.message).toContain('another zone');
    expect(JSON.stringify([err.message, err.details])).not.toMatch(/z1|10\.0\.0\.0\/16|"a"/);
    const same = await ipam.createPool('c1', 'z1', 'b', { ranges: ['10.0.5.0/24'] }, ctx).catch((e) => e);
    expect(same.reason).toBe('Overlap');
    expect(same.message).toContain('z1/a');
    await expect(ipam.createPool('c2', 'z1', 'a', { ranges: ['10.0.0.0/16'] }, ctx)).resolves.toMatchObject({ created: true });
  });

  it('refuses bad definitions with InvalidInput and writes nothing', async () => {
    const { ipam } = await freshIpam();
    const bad: [string, string, string, any][] = [
      ['c', 'z', 'p', { ranges: ['10.0.0.0/33'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.1/24'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.9-10.0.0.1'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24', '2001:db8::/120'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.256'] }],
      ['c', 'z', 'p', { ranges: ['010.0.0.1'] }],
      ['c', 'z', 'p', { ranges: ['fe80::1%eth0'] }],
      ['c', 'z', 'p', { ranges: [] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24', '10.0.0.128/25'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], exclude: ['10.9.0.0/24'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], exclude: ['2001:db8::1'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.5'], exclude: ['10.0.0.5'] }],
      ['c', 'z', 'p', { ranges: ['8000::/1'] }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], prefixLength: -1 }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], prefixLength: 33 }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], quarantineSeconds: 1.5 }],
      ['c', 'z', 'p', { ranges: ['10.0.0.0/24'], dns: { domain: 'not a domain' } }],
      ['', 'z', 'p', { ranges: ['10.0.0.0/24'] }],
      ['C', 'z', 'p', { ranges: ['10.0.0.0/24'] }],
      ['c', '../z', 'p', { ranges: ['10.0.0.0/24'] }],
      ['c', 'z', '', { ranges: ['10.0.0.0/24'] }],
    ];
    for (const [c, z, p, spec] of bad) {
      expect(await reasonOf(ipam.createPool(c, z, p, spec, ctx)), JSON.stringify([c, z, p, spec])).toBe('InvalidInput');
    }
    expect(await ipam.listPools('c')).toEqual([]);
  });

  it('reports IPv6 utilisation as decimal strings beyond 2^53', async () => {
    const { ipam } = await freshIpam();
    const { pool } = await ipam.createPool('c', 'z', 'v6', { ranges: ['2001:db8:0:1::/64'] }, ctx);
    expect(pool.size).toBe('18446744073709551616');
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'v6', holder: { kind: 'vm', id: 'a' } }, ctx);
    expect((await ipam.getPool('c', 'z', 'v6')).free).toBe('18446744073709551615');
  });

  it('adds and removes ranges, refusing to remove space that holds allocations', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/30'] }, ctx);
    const grown = await ipam.updatePool('c', 'z', 'p', { addRanges: ['10.0.1.0/30'] }, ctx);
    expect(grown.size).toBe('8');
    const a = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'x' }, address: '10.0.1.2' }, ctx);
    expect(a.allocation.address).toBe('10.0.1.2');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'p', { removeRanges: ['10.0.1.0/30'] }, ctx))).toBe('RangeInUse');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'p', { addExclude: ['10.0.1.2'] }, ctx))).toBe('RangeInUse');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'p', { removeRanges: ['10.9.9.0/30'] }, ctx))).toBe('InvalidInput');
    expect((await ipam.getPool('c', 'z', 'p')).ranges).toEqual(['10.0.0.0/30', '10.0.1.0/30']);
    await ipam.release('c', '10.0.1.2', undefined, ctx);
    const shrunk = await ipam.updatePool('c', 'z', 'p', { removeRanges: ['10.0.1.0/30'], tags: { team: 'net' } }, ctx);
    expect(shrunk).toMatchObject({ ranges: ['10.0.0.0/30'], size: '4', tags: { team: 'net' } });
    // a range of another pool cannot be added
    await ipam.createPool('c', 'z', 'q', { ranges: ['10.5.0.0/24'] }, ctx);
    expect(await reasonOf(ipam.updatePool('c', 'z', 'p', { addRanges: ['10.5.0.128/25'] }, ctx))).toBe('Overlap');
  });

  it('changes prefixLength, quarantineSeconds and dns.domain from now on, and removes them with null', async () => {
    let now = Date.now();
    const { ipam } = await freshIpam({ now: () => now });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'], quarantineSeconds: 600 }, ctx);
    const single = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'one' } }, ctx)).allocation;
    const p = await ipam.updatePool('c', 'z', 'p', { prefixLength: 30, quarantineSeconds: 0, dns: { domain: 'Prod.Example.com.' } }, ctx);
    expect(p).toMatchObject({ prefixLength: 30, dns: { domain: 'prod.example.com' } });
    expect(p.quarantineSeconds).toBeUndefined();
    // the new default block size for new allocations; the existing one keeps its size, and its repeat still answers it
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'two' } }, ctx)).allocation.prefixLength).toBe(30);
    expect(await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'one' } }, ctx)).toEqual({ allocation: single, created: false });
    // no quarantine for a release from now on: the address can be taken again at once
    await ipam.release('c', single.address, undefined, ctx);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'three' }, address: single.address, prefixLength: 32 }, ctx)).allocation.address).toBe(single.address);
    const q = await ipam.updatePool('c', 'z', 'p', { prefixLength: null, quarantineSeconds: 60, dns: null }, ctx);
    expect(q.prefixLength).toBeUndefined();
    expect(q.dns).toBeUndefined();
    expect(q.quarantineSeconds).toBe(60);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'four' } }, ctx)).allocation.prefixLength).toBe(32);
    await ipam.release('c', single.address, undefined, ctx);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'five' }, address: single.address }, ctx))).toBe('AddressTaken');
    now += 61_000;
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'five' }, address: single.address }, ctx)).created).toBe(true);
    for (const bad of [{ prefixLength: 33 }, { prefixLength: 10 }, { quarantineSeconds: -1 }, { dns: { domain: 'not a domain' } }]) {
      expect(await reasonOf(ipam.updatePool('c', 'z', 'p', bad as never, ctx))).toBe('InvalidInput');
    }
    expect(await ipam.getPool('c', 'z', 'p')).toMatchObject({ quarantineSeconds: 60 });
  });

  it('deletes a pool only when empty', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/29'] }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'x' } }, ctx);
    expect(await reasonOf(ipam.deletePool('c', 'z', 'p', ctx))).toBe('PoolNotEmpty');
    await ipam.releaseHolder('c', { kind: 'vm', id: 'x' }, ctx);
    await ipam.deletePool('c', 'z', 'p', ctx);
    expect(await reasonOf(ipam.getPool('c', 'z', 'p'))).toBe('PoolNotFound');
    // the name can be used again, and starts empty
    const again = await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/29'] }, ctx);
    expect(again.pool.allocated).toBe('0');
  });
});

describe('allocations', () => {
  const base = { cloud: 'c', zone: 'z', pool: 'p' };

  it('allocates the next free address, idempotently per (pool, holder, name)', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const a = await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'vm-1' }, mac: '52-54-00-AA-BB-CC', hostname: 'web1', tags: { role: 'web' } }, ctx);
    expect(a.created).toBe(true);
    expect(a.allocation).toMatchObject({ vm: 'vm-1', name: 'default', mac: '52:54:00:aa:bb:cc', hostname: 'web1', allocatedBy: ctx.principal, prefixLength: 32 });
    expect(a.allocation.cidr).toBe(`${a.allocation.address}/32`);
    const again = await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'vm-1' } }, ctx);
    expect(again).toEqual({ allocation: a.allocation, created: false });
    const nic2 = await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'vm-1' }, name: 'eth1' }, ctx);
    expect(nic2.allocation.address).not.toBe(a.allocation.address);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('2');
  });

  it('answers a repeat that specifies different fields with IdempotentParameterMismatch naming them, and changes nothing', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const vm = { kind: 'vm' as const, id: 'vm-c' };
    const a = (await ipam.allocate({ ...base, holder: vm, name: 'eth0', mac: '02:00:00:00:00:11', hostname: 'web', tags: { r: 'w' }, metadata: { n: 1 } }, ctx)).allocation;
    // identical (the MAC in another spelling), and with optional fields left out: the same allocation
    expect(await ipam.allocate({ ...base, holder: vm, name: 'eth0', mac: '02-00-00-00-00-11', hostname: 'web', tags: { r: 'w' }, metadata: { n: 1 } }, ctx)).toEqual({ allocation: a, created: false });
    expect(await ipam.allocate({ ...base, holder: vm, name: 'eth0' }, ctx)).toEqual({ allocation: a, created: false });
    expect(await ipam.allocate({ ...base, holder: vm, name: 'eth0', address: a.address, prefixLength: 32 }, ctx)).toEqual({ allocation: a, created: false });
    const cases: [Record<string, unknown>, string[]][] = [
      [{ mac: '02:00:00:00:00:33' }, ['mac']],
      [{ hostname: 'db' }, ['hostname']],
      [{ tags: {} }, ['tags']],
      [{ metadata: { n: 2 } }, ['metadata']],
      [{ address: a.address === '10.0.0.9' ? '10.0.0.10' : '10.0.0.9' }, ['address']],
      [{ prefixLength: 30 }, ['prefixLength']],
      [{ mac: '02:00:00:00:00:33', hostname: 'db', tags: { r: 'x' } }, ['mac', 'hostname', 'tags']],
    ];
    for (const [extra, fields] of cases) {
      const e = await ipam.allocate({ ...base, holder: vm, name: 'eth0', ...extra }, ctx).catch((x) => x);
      expect(e).toBeInstanceOf(IpamError);
      expect(e.reason).toBe('IdempotentParameterMismatch');
      expect(e.details.fields).toEqual(fields);
      for (const f of fields) expect(e.message).toContain(f);
    }
    expect(await ipam.lookup('c', a.address)).toEqual(a);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
  });

  it('finds the mismatch of a repeat that arrives in a group commit too', async () => {
    const { ipam } = await freshIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const reqs = Array.from({ length: 8 }, (_, i) => ({ ...base, holder: { kind: 'vm' as const, id: 'g' }, name: 'eth0', mac: `02:00:00:00:00:${10 + i}` }));
    const settled = await Promise.allSettled(reqs.map((r) => ipam.allocate(r, ctx)));
    const ok = settled.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    for (const r of settled) if (r.status === 'rejected') expect((r.reason as IpamError).reason).toBe('IdempotentParameterMismatch');
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
  });

  it('allocates a specific address, refusing one that is taken, outside, excluded or of the wrong family', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'], exclude: ['10.0.0.1'] }, ctx);
    const a = await ipam.allocate({ ...base, holder: { kind: 'vip', id: 'lb' }, address: '10.0.0.7' }, ctx);
    expect(a.allocation).toMatchObject({ address: '10.0.0.7', vip: 'lb' });
    const taken = await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'other' }, address: '10.0.0.7' }, ctx).catch((e) => e);
    expect(taken.reason).toBe('AddressTaken');
    expect(taken.message).toContain('vip:lb');
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'o' }, address: '10.0.1.7' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'o' }, address: '10.0.0.1' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'o' }, address: '2001:db8::1' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'o' }, address: 'banana' }, ctx))).toBe('InvalidInput');
    // the same holder asking for another address under the same name
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vip', id: 'lb' }, address: '10.0.0.8' }, ctx))).toBe('IdempotentParameterMismatch');
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
  });

  it('allocates aligned blocks that never overlap single addresses or each other', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.8.0.0/22'], prefixLength: 28 }, ctx);
    // the big block first: random placement of small allocations fragments a pool
    const big = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'big' }, prefixLength: 23 }, ctx)).allocation;
    const blocks = [];
    for (let i = 0; i < 10; i++) blocks.push((await ipam.allocate({ ...base, holder: { kind: 'vm', id: `k${i}` } }, ctx)).allocation);
    const singles = [];
    for (let i = 0; i < 20; i++) singles.push((await ipam.allocate({ ...base, holder: { kind: 'vm', id: `s${i}` }, prefixLength: 32 }, ctx)).allocation);
    const spans = [...blocks, ...singles, big].map((a) => {
      const [ip, p] = a.cidr.split('/');
      const v = ip!.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      expect(v % 2 ** (32 - Number(p))).toBe(0);
      return [v, v + 2 ** (32 - Number(p)) - 1] as const;
    });
    for (let i = 0; i < spans.length; i++) for (let j = i + 1; j < spans.length; j++) expect(spans[i]![1] < spans[j]![0] || spans[j]![1] < spans[i]![0]).toBe(true);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe(String(10 * 16 + 20 + 512));
    // a block is found by any address inside it, and released as a whole
    const inner = big.address.replace(/\.(\d+)$/, (_, o) => `.${Number(o) + 77}`);
    expect((await ipam.lookup('c', inner)).cidr).toBe(big.cidr);
    await ipam.release('c', big.address, { kind: 'vm', id: 'big' }, ctx);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe(String(10 * 16 + 20));
    // a specific block that overlaps a single allocation is refused
    const s = singles[0]!.address.split('.').map(Number);
    const net = `${s[0]}.${s[1]}.${s[2]}.${s[3]! - (s[3]! % 16)}/28`;
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'z' }, address: net }, ctx))).toBe('AddressTaken');
  });

  it('releases by address with an optional holder guard, and everything of a VM', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const a = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'vm-1' } }, ctx)).allocation;
    expect(await reasonOf(ipam.release('c', a.address, { kind: 'vm', id: 'vm-2' }, ctx))).toBe('HolderMismatch');
    expect((await ipam.lookup('c', a.address)).vm).toBe('vm-1');
    await ipam.release('c', a.address, { kind: 'vm', id: 'vm-1' }, ctx);
    expect(await reasonOf(ipam.lookup('c', a.address))).toBe('AllocationNotFound');
    expect(await reasonOf(ipam.release('c', a.address, undefined, ctx))).toBe('AllocationNotFound');
    await ipam.createPool('c', 'z2', 'p2', { ranges: ['10.1.0.0/24'] }, ctx);
    for (const [zone, pool, name] of [['z', 'p', 'eth0'], ['z', 'p', 'eth1'], ['z2', 'p2', 'eth0']]) await ipam.allocate({ cloud: 'c', zone: zone!, pool: pool!, holder: { kind: 'vm', id: 'vm-9' }, name }, ctx);
    expect(await ipam.byHolder('c', { kind: 'vm', id: 'vm-9' })).toHaveLength(3);
    const released = await ipam.releaseHolder('c', { kind: 'vm', id: 'vm-9' }, ctx);
    expect(released.map((r) => r.name).sort()).toEqual(['eth0', 'eth0', 'eth1']);
    expect(await ipam.byHolder('c', { kind: 'vm', id: 'vm-9' })).toEqual([]);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
  });

  it('lists a pool with a cursor, in address order, across chunks', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.250-10.0.1.9'] }, ctx);
    for (let i = 0; i < 16; i++) await ipam.allocate({ ...base, holder: { kind: 'vm', id: `v${i}` } }, ctx);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await ipam.listAllocations('c', 'z', 'p', { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.items.map((a) => a.address));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toHaveLength(16);
    expect(new Set(seen).size).toBe(16);
    const order = seen.map((s) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(await reasonOf(ipam.listAllocations('c', 'z', 'p', { cursor: '!!' }))).toBe('InvalidInput');
  });

  it('updates an allocation in place', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const a = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'v' }, hostname: 'old' }, ctx)).allocation;
    const u = await ipam.updateAllocation('c', a.address, { mac: '52:54:00:00:00:01', hostname: null, tags: { x: 'y' } }, { principal: 'ops' });
    expect(u).toMatchObject({ mac: '52:54:00:00:00:01', tags: { x: 'y' }, updatedBy: 'ops', version: 2 });
    expect(u.hostname).toBeUndefined();
    expect(await ipam.lookup('c', a.address)).toEqual(u);
    expect(await reasonOf(ipam.updateAllocation('c', a.address, { mac: 'zz' }, ctx))).toBe('InvalidInput');
  });

  it('keeps a released address in quarantine for quarantineSeconds', async () => {
    let now = Date.now();
    const { ipam } = await freshIpam({ now: () => now });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.1-10.0.0.2'], quarantineSeconds: 60 }, ctx);
    const a = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'a' } }, ctx)).allocation;
    const b = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'b' } }, ctx)).allocation;
    await ipam.release('c', a.address, undefined, ctx);
    expect(await reasonOf(ipam.allocate({ ...base, holder: { kind: 'vm', id: 'c' } }, ctx))).toBe('PoolExhausted');
    const q = await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'c' }, address: a.address }, ctx).catch((e) => e);
    expect(q.reason).toBe('AddressTaken');
    expect(q.message).toContain('quarantine');
    now += 61_000;
    const c = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'c' } }, ctx)).allocation;
    expect(c.address).toBe(a.address);
    expect(b.address).not.toBe(a.address);
  });

  it('works for IPv6 pools, blocks included', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['2001:db8::/112', '2001:db8:1::10-2001:db8:1::ff'] }, ctx);
    const a = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'six' }, address: '2001:DB8:1::10' }, ctx)).allocation;
    expect(a).toMatchObject({ address: '2001:db8:1::10', cidr: '2001:db8:1::10/128', family: 6 });
    const blk = (await ipam.allocate({ ...base, holder: { kind: 'vm', id: 'six' }, name: 'pd', prefixLength: 120 }, ctx)).allocation;
    expect(blk.cidr).toMatch(/^2001:db8::[0-9a-f]*00\/120$|^2001:db8::\/120$/);
    expect((await ipam.lookup('c', '2001:db8:1:0:0:0:0:10')).vm).toBe('six');
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe(String(1 + 256));
  });

  it('refuses bad allocation input with InvalidInput and changes nothing', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/24'] }, ctx);
    const bad: any[] = [
      { ...base, holder: { kind: 'vm', id: '' } },
      { ...base, holder: { kind: 'vm', id: 'x'.repeat(129) } },
      { ...base, holder: { kind: 'vm', id: 'a b' } },
      { ...base, holder: { kind: 'host', id: 'a' } },
      { ...base, holder: undefined },
      { ...base, holder: { kind: 'vm', id: 'a' }, name: '' },
      { ...base, holder: { kind: 'vm', id: 'a' }, name: 'a#b' },
      { ...base, holder: { kind: 'vm', id: 'a' }, prefixLength: 0 },
      { ...base, holder: { kind: 'vm', id: 'a' }, prefixLength: 40 },
      { ...base, holder: { kind: 'vm', id: 'a' }, address: '10.0.0.3/24' },
      { ...base, holder: { kind: 'vm', id: 'a' }, mac: 'nope' },
      { ...base, holder: { kind: 'vm', id: 'a' }, hostname: '-bad-' },
      { ...base, holder: { kind: 'vm', id: 'a' }, tags: { a: 1 } },
      { ...base, holder: { kind: 'vm', id: 'a' }, metadata: { deep: JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) } },
      { ...base, holder: { kind: 'vm', id: 'a' }, metadata: { big: 'x'.repeat(20_000) } },
      { ...base, pool: 'P', holder: { kind: 'vm', id: 'a' } },
    ];
    for (const req of bad) expect(await reasonOf(ipam.allocate(req, ctx)), JSON.stringify(req).slice(0, 200)).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ ...base, pool: 'nope', holder: { kind: 'vm', id: 'a' } }, ctx))).toBe('PoolNotFound');
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
    expect((await ipam.listAllocations('c', 'z', 'p')).items).toEqual([]);
  });
});

describe('bulk loading (group commit: bulkAllocate is gone, concurrent allocate calls are packed)', () => {
  it('packs many concurrent allocations per transaction, uniquely, and answers a repeat with the same address', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.60.0.0/22'], exclude: ['10.60.1.0/25'] }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'first' } }, ctx);
    const reqs = Array.from({ length: 500 }, (_, i) => ({ holder: { kind: 'vm' as const, id: `bulk-${i}` }, hostname: `h${i}` }));
    const bulk = (rs: typeof reqs) => Promise.all(rs.map(async (r) => (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', ...r }, ctx)).allocation));
    const got = await bulk(reqs);
    expect(got).toHaveLength(500);
    expect(new Set(got.map((a) => a.address)).size).toBe(500);
    expect(got.some((a) => a.address.startsWith('10.60.1.') && Number(a.address.split('.')[3]) < 128)).toBe(false);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('501');
    expect((await ipam.lookup('c', got[123]!.address)).vm).toBe('bulk-123');
    const again = await bulk(reqs.slice(0, 60));
    expect(again.map((a) => a.address)).toEqual(got.slice(0, 60).map((a) => a.address));
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('501');
  });
});

describe('import', () => {
  it('fills an empty pool in address order, fenced, with counters set at the end', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.70.0.0/20'], exclude: ['10.70.0.0'] }, ctx);
    const other = new Ipam(store);
    await other.getPool('c', 'z', 'p'); // caches the pool as it was before the import
    const seen: number[] = [];
    let racing: Promise<unknown> | undefined;
    const r = await ipam.importAllocations('c', 'z', 'p', Array.from({ length: 3000 }, (_, i) => ({ holder: { kind: 'vm' as const, id: `imp-${i}` }, hostname: `imp-${i}` })), ctx, (n) => {
      seen.push(n);
      // another engine, with the pool cached from before the import, tries to allocate while it runs
      racing ??= other.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'racer' } }, ctx).catch((e) => e);
    });
    expect(r.imported).toBe(3000);
    expect(seen.at(-1)).toBe(3000);
    const raced = await racing;
    expect(raced).toBeInstanceOf(IpamError);
    expect((raced as IpamError).reason).toBe('Contention');
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('3000');
    expect((await ipam.lookup('c', '10.70.0.1')).vm).toBe('imp-0');
    expect((await ipam.lookup('c', '10.70.0.1')).hostname).toBe('imp-0');
    const after = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'after' } }, ctx);
    const all = [];
    for await (const a of ipam.iterateAllocations('c')) all.push(a.address);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain(after.allocation.address);
    expect(await ipam.importAllocations('c', 'z', 'p', [{ holder: { kind: 'vm', id: 'x' } }], ctx).catch((e) => e.reason)).toBe('PoolNotEmpty');
  });

  it('refuses a duplicate claim, and leaves the pool usable with what was written', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.71.0.0/24'] }, ctx);
    const dup = [{ holder: { kind: 'vm' as const, id: 'a' } }, { holder: { kind: 'vm' as const, id: 'a' } }];
    expect(await ipam.importAllocations('c', 'z', 'p', dup, ctx).catch((e) => e.reason)).toBe('InvalidInput');
    const pool = await ipam.getPool('c', 'z', 'p');
    expect(pool.importing).toBeUndefined();
    expect(pool.allocated).toBe('0');
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'b' } }, ctx);
    const tooMany = await ipam.createPool('c', 'z', 'small', { ranges: ['10.72.0.1-10.72.0.3'] }, ctx).then(() => ipam.importAllocations('c', 'z', 'small', Array.from({ length: 5 }, (_, i) => ({ holder: { kind: 'vm' as const, id: `s${i}` } })), ctx).catch((e) => e));
    expect(tooMany.reason).toBe('PoolExhausted');
    expect((await ipam.getPool('c', 'z', 'small')).allocated).toBe('3');
  });
});

describe('concurrency', () => {
  it('hands every address out exactly once to 40 concurrent allocators in 4 engines, and the surplus gets PoolExhausted', async () => {
    const { ipam, store } = await freshIpam();
    const engines = [ipam, new Ipam(store), new Ipam(store), new Ipam(store)];
    await ipam.createPool('c', 'z', 'small', { ranges: ['10.9.0.1-10.9.0.30'] }, ctx);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engines[i % 4]!.allocate({ cloud: 'c', zone: 'z', pool: 'small', holder: { kind: 'vm', id: `vm-${i}` } }, ctx).then(
          (r) => ({ ok: r.allocation.address, vm: `vm-${i}` }),
          (e) => ({ err: e instanceof IpamError ? e.reason : String(e) }),
        ),
      ),
    );
    const got = results.filter((r): r is { ok: string; vm: string } => 'ok' in r);
    const errors = results.filter((r): r is { err: string } => 'err' in r);
    expect(got).toHaveLength(30);
    expect(new Set(got.map((g) => g.ok)).size).toBe(30);
    expect(errors.map((e) => e.err)).toEqual(Array(10).fill('PoolExhausted'));
    // nothing lost: every acknowledged allocation is stored, for its holder, and the counts agree
    for (const g of got) expect((await ipam.lookup('c', g.ok)).vm).toBe(g.vm);
    const pool = await ipam.getPool('c', 'z', 'small');
    expect(pool).toMatchObject({ allocated: '30', free: '0' });
    const listed = await ipam.listAllocations('c', 'z', 'small', { limit: 1000 });
    expect(listed.items.map((a) => a.address).sort()).toEqual(got.map((g) => g.ok).sort());
  });

  it('gives 32 concurrent identical requests one address', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.0.0.0/20'] }, ctx);
    const engines = Array.from({ length: 8 }, () => new Ipam(store));
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => engines[i % 8]!.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'same' }, name: 'eth0' }, ctx)));
    expect(new Set(results.map((r) => r.allocation.address)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
  });

  it('keeps blocks and singles disjoint under concurrency', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.20.0.0/25'] }, ctx);
    const engines = Array.from({ length: 4 }, () => new Ipam(store));
    const results = await Promise.allSettled(
      Array.from({ length: 48 }, (_, i) => engines[i % 4]!.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `m${i}` }, prefixLength: i % 3 === 0 ? 29 : 32 }, ctx)),
    );
    const spans = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.allocation] : [])).map((a) => {
      const v = Number(a.address.split('.')[3]);
      return [v, v + 2 ** (32 - a.prefixLength) - 1] as const;
    });
    for (let i = 0; i < spans.length; i++) for (let j = i + 1; j < spans.length; j++) expect(spans[i]![1] < spans[j]![0] || spans[j]![1] < spans[i]![0]).toBe(true);
    const used = spans.reduce((n, [a, b]) => n + (b - a + 1), 0);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe(String(used));
    for (const r of results) if (r.status === 'rejected') expect(['PoolExhausted']).toContain((r.reason as IpamError).reason);
  });
});

describe('group commit', () => {
  /** The engine's store, with its transactions counted. */
  const counted = async (opts = {}) => {
    const f = await freshIpam(opts);
    const calls = { single: 0, group: 0, groupSizes: [] as number[] };
    const single = f.store.commitAllocation.bind(f.store);
    const bulk = f.store.commitBulk.bind(f.store);
    f.store.commitAllocation = (c) => (calls.single++, single(c));
    f.store.commitBulk = (c) => (calls.group++, calls.groupSizes.push(c.allocations.length), bulk(c));
    return { ...f, calls };
  };

  it('commits concurrent single allocations of one pool together, each with its own caller, fields and counts', async () => {
    const { ipam, calls } = await counted();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.30.0.0/16'] }, ctx);
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `g-${i}` }, hostname: `g-${i}`, tags: { n: String(i) }, metadata: { i } }, { principal: `caller-${i % 3}`, requestId: `r-${i}` }),
      ),
    );
    expect(results.every((r) => r.created)).toBe(true);
    expect(new Set(results.map((r) => r.allocation.address)).size).toBe(120);
    // 4 slots go out one by one, then the waiting ones go in groups: far fewer transactions than allocations
    expect(calls.group).toBeGreaterThan(0);
    expect(calls.single + calls.group).toBeLessThan(40);
    expect(calls.groupSizes.reduce((a, b) => a + b, 0) + calls.single).toBe(120);
    for (const i of [0, 7, 64, 119]) {
      const a = await ipam.lookup('c', results[i]!.allocation.address);
      expect(a).toMatchObject({ vm: `g-${i}`, hostname: `g-${i}`, tags: { n: String(i) }, metadata: { i }, allocatedBy: `caller-${i % 3}`, requestId: `r-${i}` });
    }
    expect(await ipam.getPool('c', 'z', 'p')).toMatchObject({ allocated: '120' });
    const listed = await ipam.listAllocations('c', 'z', 'p', { limit: 1000 });
    expect(listed.items).toHaveLength(120);
  });

  it('keeps repeats, duplicates, blocks and requested addresses correct when they arrive in a group', async () => {
    const { ipam, calls } = await counted({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.31.0.0/22'] }, ctx);
    const before = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'old' } }, ctx);
    const reqs = [
      ...Array.from({ length: 30 }, (_, i) => ({ holder: { kind: 'vm' as const, id: `n-${i}` } })),
      ...Array.from({ length: 6 }, () => ({ holder: { kind: 'vm' as const, id: 'dup' } })),
      { holder: { kind: 'vm' as const, id: 'old' } },
      { holder: { kind: 'vm' as const, id: 'blk' }, prefixLength: 30 },
      { holder: { kind: 'vm' as const, id: 'pinned' }, address: '10.31.3.3' },
    ];
    const results = await Promise.all(reqs.map((r) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', ...r }, ctx)));
    expect(calls.group).toBeGreaterThan(0);
    const dups = results.slice(30, 36);
    expect(new Set(dups.map((r) => r.allocation.address)).size).toBe(1);
    expect(dups.filter((r) => r.created)).toHaveLength(1);
    expect(results[36]).toMatchObject({ created: false, allocation: { address: before.allocation.address } });
    expect(results[37]!.allocation.prefixLength).toBe(30);
    expect(results[38]!.allocation.address).toBe('10.31.3.3');
    const created = results.filter((r) => r.created).map((r) => r.allocation);
    const spans = [before.allocation, ...created].map((a) => {
      const [, , c3, c4] = a.address.split('.').map(Number);
      const v = c3! * 256 + c4!;
      return [v, v + 2 ** (32 - a.prefixLength) - 1] as const;
    });
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThan(spans[i - 1]![1]);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe(String(spans.reduce((n, [a, b]) => n + b - a + 1, 0)));
  });

  it('a group whose transaction fails outright is no shared fate: each member is tried on its own', async () => {
    const { ipam, store, calls } = await counted({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.33.0.0/20'] }, ctx);
    const real = store.commitBulk;
    let thrown = 0;
    store.commitBulk = async () => {
      store.commitBulk = real;
      thrown++;
      throw new Error('store unavailable');
    };
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `f-${i}` } }, ctx)),
      ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'blk' }, prefixLength: 29 }, ctx),
    ]);
    // the first goes alone (one slot), the 9 that waited go as one group, whose transaction throws;
    // its members are then allocated one by one, and each gets its own answer
    expect(thrown).toBe(1);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(calls.single).toBeGreaterThanOrEqual(10);
    const ok = results.map((r) => (r as PromiseFulfilledResult<{ allocation: { address: string; prefixLength: number } }>).value.allocation);
    expect(new Set(ok.map((a) => a.address)).size).toBe(11);
    const pool = await ipam.getPool('c', 'z', 'p');
    expect(pool.allocated).toBe(String(ok.reduce((n, a) => n + 2 ** (32 - a.prefixLength), 0)));
    expect((await ipam.listAllocations('c', 'z', 'p', { limit: 100 })).items).toHaveLength(ok.length);
  });

  it('is off with groupCommit: 0 (one transaction per allocation)', async () => {
    const { ipam, calls } = await counted({ groupCommit: 0 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.32.0.0/20'] }, ctx);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `s-${i}` } }, ctx)));
    // no group ever; one transaction each, plus one more for any allocation that lost a race and retried
    expect(calls.group).toBe(0);
    expect(calls.single).toBeGreaterThanOrEqual(20);
    expect(new Set((await ipam.listAllocations('c', 'z', 'p', { limit: 100 })).items.map((a) => a.address)).size).toBe(20);
  });
});

describe('repair after failover', () => {
  it('rebuilds counters, free-slot sets and claims from the allocation records', async () => {
    const { ipam, store, doc, table } = await freshIpam();
    const { DeleteCommand, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { repairTable } = await import('../lib/dynamo/repair.js');
    const { keys } = await import('../lib/dynamo/keys.js');
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.95.0.0/24'] }, ctx);
    const held: Awaited<ReturnType<typeof ipam.allocate>>["allocation"][] = [];
    for (let i = 0; i < 5; i++) held.push((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `r${i}` } }, ctx)).allocation);
    const pool = (await store.getPool('c', 'z', 'p'))!;
    // what a replica cut mid-stream can look like: a lost counter update, a lost claim, a stray used offset
    for (let k = 0; k < pool.shards; k++) await doc.send(new UpdateCommand({ TableName: table, Key: keys.shard(pool.uid, k), UpdateExpression: 'SET allocated = :z', ExpressionAttributeValues: { ':z': 0 } }));
    await doc.send(new DeleteCommand({ TableName: table, Key: keys.held(pool.uid, { kind: 'vm', id: 'r0' }, 'default') }));
    const stray = [...Array(256).keys()].find((o) => !held.some((h) => h.address === `10.95.0.${o}`))!;
    await doc.send(new UpdateCommand({ TableName: table, Key: keys.chunkMeta('c', 4, 0x0a5f0000n, pool.uid), UpdateExpression: 'ADD used :o', ExpressionAttributeValues: { ':o': new Set([stray]) } }));
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');

    const report = await repairTable(store);
    expect(report).toMatchObject({ allocations: 5, chunksFixed: 1, claimsCreated: 1, countersFixed: 1 });
    const fresh = new Ipam(store);
    expect((await fresh.getPool('c', 'z', 'p')).allocated).toBe('5');
    expect((await fresh.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'r0' } }, ctx)).allocation.address).toBe(held[0]!.address);
    expect((await fresh.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'x' }, address: `10.95.0.${stray}` }, ctx)).created).toBe(true);
    expect(await repairTable(store)).toMatchObject({ chunksFixed: 0, claimsCreated: 0, claimsDeleted: 0, countersFixed: 0 });
  });
});
