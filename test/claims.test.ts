/**
 * Issue 11, items 4 and 5 (hostnames): a MAC is unique per network (per pool outside networks), a
 * hostname is a label or an FQDN of its pool's domain and unique within that domain. Enforced by claim
 * items inside the allocation's own transaction, on DynamoDB Local; the 409 reaches an HTTP caller.
 */
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamError } from '../lib/core/errors.js';
import { checkHostnameIn, claimsOf, fqdnOf, macScope } from '../lib/core/uniqueness.js';
import { Ipam } from '../lib/engine/ipam.js';
import { Environments } from '../lib/engine/environments.js';
import { keys } from '../lib/dynamo/keys.js';
import { repairTable } from '../lib/dynamo/repair.js';
import { ApiError } from '../lib/client/client.js';
import { ADMIN, DMZ_ONLY, startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, freshIpam, reasonOf } from './support.js';

const vm = (id: string) => ({ kind: 'vm' as const, id });
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as IpamError);

describe('the rules, pure', () => {
  it('scopes a MAC by network, else by pool; an FQDN must be label + "." + domain', () => {
    expect(macScope({ zone: 'dmz', network: 'lan', uid: 'u1' })).toBe('net#dmz#lan');
    expect(macScope({ zone: 'dmz', uid: 'u1' })).toBe('u1');
    expect(fqdnOf('web', 'd.example.com')).toBe('web.d.example.com');
    expect(fqdnOf('WEB.D.Example.COM.', 'd.example.com')).toBe('web.d.example.com');
    expect(fqdnOf('web.x.d.example.com', 'd.example.com')).toBeUndefined();
    expect(fqdnOf('web.example.com', 'd.example.com')).toBeUndefined();
    expect(fqdnOf('web', undefined)).toBeUndefined();
    expect(() => checkHostnameIn('web', undefined, 'pool p')).not.toThrow();
    expect(() => checkHostnameIn('web.d.example.com.', 'd.example.com', 'pool p')).not.toThrow();
    expect(() => checkHostnameIn('web.example.com', undefined, 'pool p')).toThrow(/no DNS domain/);
    expect(() => checkHostnameIn('db1.other.example.com', 'd.example.com', 'pool p')).toThrow(/not in the domain d\.example\.com/);
    const pool = { cloud: 'c', zone: 'z', uid: 'u', network: 'n' };
    expect(claimsOf(pool, { mac: '52:54:00:00:00:01', hostname: 'a' }, 'd.example.com')).toEqual([
      { kind: 'mac', cloud: 'c', scope: 'net#z#n', value: '52:54:00:00:00:01' },
      { kind: 'fqdn', cloud: 'c', value: 'a.d.example.com' },
    ]);
    expect(claimsOf(pool, { hostname: 'a' }, undefined)).toEqual([]);
  });
});

describe('MAC claims', () => {
  it('refuses a MAC held in the same pool (409 MacTaken, nothing written), allows it in another pool', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.1.0.0/24'] }, ctx);
    await ipam.createPool('c', 'z', 'q', { ranges: ['10.2.0.0/24'] }, ctx);
    const first = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('a'), mac: '52:54:00:aa:bb:cc' }, ctx)).allocation;
    const err = await errorOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('b'), mac: '52-54-00-AA-BB-CC' }, ctx));
    expect(err).toBeInstanceOf(IpamError);
    expect(err).toMatchObject({ reason: 'MacTaken', kind: 'Conflict', details: { mac: '52:54:00:aa:bb:cc' } });
    expect(err!.message).toContain(`vm:a (${first.address}`);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
    expect(await ipam.byHolder('c', vm('b'))).toEqual([]);
    // Another pool outside networks is another scope.
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'q', holder: vm('b'), mac: '52:54:00:aa:bb:cc' }, ctx)).created).toBe(true);
    // An identical repeat is still the same allocation (200), not a conflict with itself.
    expect(await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('a'), mac: '52:54:00:aa:bb:cc' }, ctx)).toEqual({ allocation: first, created: false });
  });

  it('scopes a MAC by network: the pools of one network share it, another network does not', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'z', 'lan', { cidr: '10.30.0.0/24', gateway: '10.30.0.1' }, ctx);
    await ipam.createNetwork('c', 'z', 'lab', { cidr: '10.31.0.0/24' }, ctx);
    await ipam.createPool('c', 'z', 'a', { ranges: ['10.30.0.0/25'], network: 'lan' }, ctx);
    await ipam.createPool('c', 'z', 'b', { ranges: ['10.30.0.128/25'], network: 'lan' }, ctx);
    await ipam.createPool('c', 'z', 'x', { ranges: ['10.31.0.0/24'], network: 'lab' }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'a', holder: vm('a'), mac: '52:54:00:00:00:01' }, ctx);
    const err = await errorOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), mac: '52:54:00:00:00:01' }, ctx));
    expect(err).toMatchObject({ reason: 'MacTaken' });
    expect(err!.message).toContain('network lan');
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'x', holder: vm('b'), mac: '52:54:00:00:00:01' }, ctx)).created).toBe(true);
  });

  it('lets exactly one of 50 concurrent allocations with the same MAC win, with group commit on', async () => {
    const { ipam, store } = await freshIpam({ groupCommit: 2 });
    const engines = [ipam, new Ipam(store, { groupCommit: 2 })];
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.3.0.0/22'] }, ctx);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        engines[i % 2]!.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm(`v${i}`), mac: '02:00:00:00:00:01' }, ctx).then(
          (r) => r.allocation.vm!,
          (e) => (e instanceof IpamError ? e.reason : String(e)),
        ),
      ),
    );
    const winners = results.filter((r) => r.startsWith('v'));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r === 'MacTaken')).toHaveLength(49);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('1');
    // Released, the MAC is free again.
    const held = (await ipam.byHolder('c', vm(winners[0]!)))[0]!;
    await ipam.release('c', held.address, undefined, ctx);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('later'), mac: '02:00:00:00:00:01' }, ctx)).created).toBe(true);
  });

  it('fails only the group member whose MAC is held; the others of its group are allocated', async () => {
    const { ipam } = await freshIpam({ groupCommit: 1 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.4.0.0/24'] }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('owner'), mac: '02:00:00:00:00:99', hostname: 'owner' }, ctx);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm(`g${i}`), mac: i === 17 ? '02:00:00:00:00:99' : `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`, hostname: `g${i}` }, ctx).then(
          (r) => (r.created ? 'ok' : 'repeat'),
          (e) => (e instanceof IpamError ? e.reason : String(e)),
        ),
      ),
    );
    expect(results[17]).toBe('MacTaken');
    expect(results.filter((r) => r === 'ok')).toHaveLength(39);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('40');
  });

  it('PATCH to a held MAC is 409 and changes nothing; to a free one moves the claim', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.5.0.0/24'] }, ctx);
    const a = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('a'), mac: '02:00:00:00:00:0a' }, ctx)).allocation;
    const b = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('b'), mac: '02:00:00:00:00:0b' }, ctx)).allocation;
    expect(await reasonOf(ipam.updateAllocation('c', b.address, { mac: '02:00:00:00:00:0a', tags: { t: '1' } }, ctx))).toBe('MacTaken');
    expect(await ipam.lookup('c', b.address)).toEqual(b);
    expect(await ipam.lookup('c', a.address)).toEqual(a);
    // Both claims are still in place.
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('x'), mac: '02:00:00:00:00:0a' }, ctx))).toBe('MacTaken');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('x'), mac: '02:00:00:00:00:0b' }, ctx))).toBe('MacTaken');
    // A free MAC: taken, and the old one given up; removing it gives it up as well.
    expect((await ipam.updateAllocation('c', b.address, { mac: '02:00:00:00:00:0c' }, ctx)).mac).toBe('02:00:00:00:00:0c');
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('y'), mac: '02:00:00:00:00:0b' }, ctx)).created).toBe(true);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('z'), mac: '02:00:00:00:00:0c' }, ctx))).toBe('MacTaken');
    await ipam.updateAllocation('c', b.address, { mac: null }, ctx);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('z'), mac: '02:00:00:00:00:0c' }, ctx)).created).toBe(true);
  });
});

describe('allocations made before claims existed', () => {
  it('release and PATCH of one never delete the claim of a newer allocation that shares its MAC', async () => {
    const { ipam, doc, table } = await freshIpam();
    const { pool } = await ipam.createPool('c', 'z', 'p', { ranges: ['10.17.0.0/24'] }, ctx);
    const old = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('old'), mac: '02:00:00:00:00:01' }, ctx)).allocation;
    const old2 = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('old2'), mac: '02:00:00:00:00:02' }, ctx)).allocation;
    // As if written by an earlier version: no claim items.
    await doc.send(new DeleteCommand({ TableName: table, Key: keys.mac('c', pool.uid, '02:00:00:00:00:01') }));
    await doc.send(new DeleteCommand({ TableName: table, Key: keys.mac('c', pool.uid, '02:00:00:00:00:02') }));
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('new'), mac: '02:00:00:00:00:01' }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('new2'), mac: '02:00:00:00:00:02' }, ctx);
    await ipam.release('c', old.address, undefined, ctx);
    expect((await ipam.updateAllocation('c', old2.address, { mac: '02:00:00:00:00:03' }, ctx)).mac).toBe('02:00:00:00:00:03');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('x'), mac: '02:00:00:00:00:01' }, ctx))).toBe('MacTaken');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('x'), mac: '02:00:00:00:00:02' }, ctx))).toBe('MacTaken');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('x'), mac: '02:00:00:00:00:03' }, ctx))).toBe('MacTaken');
  });
});

describe('hostnames', () => {
  it('accepts a label or an FQDN of the pool domain, refuses anything else with 400, and writes nothing', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'd', { ranges: ['10.6.0.0/24'], dns: { domain: 'd.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'nodomain', { ranges: ['10.7.0.0/24'] }, ctx);
    const alloc = (pool: string, id: string, hostname: string) => ipam.allocate({ cloud: 'c', zone: 'z', pool, holder: vm(id), hostname }, ctx);
    expect((await alloc('d', 'a', 'web')).allocation.hostname).toBe('web');
    expect((await alloc('d', 'b', 'api.d.example.com')).created).toBe(true);
    expect((await alloc('d', 'c', 'MAIL.D.Example.com.')).created).toBe(true);
    const outside = await errorOf(alloc('d', 'x', 'db1.other.example.com'));
    expect(outside).toMatchObject({ reason: 'HostnameOutsideDomain', kind: 'InvalidInput' });
    expect(outside!.message).toContain('d.example.com');
    expect(await reasonOf(alloc('d', 'x', 'a.b.d.example.com'))).toBe('HostnameOutsideDomain');
    expect(await reasonOf(alloc('d', 'x', 'd.example.com'))).toBe('HostnameOutsideDomain');
    expect((await alloc('nodomain', 'a', 'web')).created).toBe(true);
    expect((await alloc('nodomain', 'b', 'web')).created).toBe(true); // no domain: labels claim nothing
    expect(await reasonOf(alloc('nodomain', 'x', 'web.example.com'))).toBe('HostnameOutsideDomain');
    expect((await ipam.getPool('c', 'z', 'd')).allocated).toBe('3');
    expect((await ipam.getPool('c', 'z', 'nodomain')).allocated).toBe('2');
    const a = (await ipam.byHolder('c', vm('a'))).find((x) => x.pool === 'd')!;
    expect(await reasonOf(ipam.updateAllocation('c', a.address, { hostname: 'web.example.org' }, ctx))).toBe('HostnameOutsideDomain');
    expect((await ipam.lookup('c', a.address)).hostname).toBe('web');
  });

  it('keeps a hostname unique within its domain (label and FQDN forms alike, any pool, any engine), and frees it on release', async () => {
    const { ipam, store } = await freshIpam();
    // One domain, two pools: an IPv4 and an IPv6 pool may share it (one owner per family).
    await ipam.createPool('c', 'z', 'p1', { ranges: ['10.8.0.0/24'], dns: { domain: 'd.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'p2', { ranges: ['fd00:9::/120'], dns: { domain: 'd.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'p3', { ranges: ['10.10.0.0/24'], dns: { domain: 'e.example.com' } }, ctx);
    const web = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p1', holder: vm('web'), hostname: 'web' }, ctx)).allocation;
    const same = await errorOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p1', holder: vm('x'), hostname: 'WEB.d.example.com' }, ctx));
    expect(same).toMatchObject({ reason: 'HostnameTaken', kind: 'Conflict', details: { fqdn: 'web.d.example.com' } });
    expect(same!.message).toContain('vm:web');
    // From the other pool of the domain: 409 as well.
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p2', holder: vm('y'), hostname: 'web' }, ctx))).toBe('HostnameTaken');
    // Another domain is another namespace.
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p3', holder: vm('x'), hostname: 'web' }, ctx)).created).toBe(true);
    // 30 concurrent claims of one name in two engines: one wins.
    const other = new Ipam(store);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? other : ipam).allocate({ cloud: 'c', zone: 'z', pool: i % 3 ? 'p1' : 'p2', holder: vm(`r${i}`), hostname: 'race' }, ctx).then(
          () => 'ok',
          (e) => (e instanceof IpamError ? e.reason : String(e)),
        ),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'HostnameTaken')).toHaveLength(29);
    // PATCH to a held name: 409, nothing changes; release frees the name.
    const x = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p1', holder: vm('x'), hostname: 'x' }, ctx)).allocation;
    expect(await reasonOf(ipam.updateAllocation('c', x.address, { hostname: 'web' }, ctx))).toBe('HostnameTaken');
    expect(await ipam.lookup('c', x.address)).toEqual(x);
    await ipam.release('c', web.address, undefined, ctx);
    expect((await ipam.updateAllocation('c', x.address, { hostname: 'web.d.example.com' }, ctx)).hostname).toBe('web.d.example.com');
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p1', holder: vm('y'), hostname: 'x' }, ctx)).created).toBe(true);
  });

  it("in a network, hostnames are names of the network's domain, unique across its pools", async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'z', 'lan', { cidr: '10.32.0.0/24', dns: { domain: 'lan.example.com' } }, ctx);
    await ipam.createNetwork('c', 'z', 'bare', { cidr: '10.33.0.0/24' }, ctx);
    await ipam.createPool('c', 'z', 'a', { ranges: ['10.32.0.1-10.32.0.100'], network: 'lan' }, ctx);
    await ipam.createPool('c', 'z', 'b', { ranges: ['10.32.0.101-10.32.0.200'], network: 'lan' }, ctx);
    await ipam.createPool('c', 'z', 'n', { ranges: ['10.33.0.1-10.33.0.100'], network: 'bare' }, ctx);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'a', holder: vm('a'), hostname: 'web' }, ctx)).created).toBe(true);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), hostname: 'web.lan.example.com' }, ctx))).toBe('HostnameTaken');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), hostname: 'web.other.example.com' }, ctx))).toBe('HostnameOutsideDomain');
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), hostname: 'db.LAN.example.com.' }, ctx)).created).toBe(true);
    // A network without a domain: labels only, claiming nothing.
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'n', holder: vm('c'), hostname: 'web.lan.example.com' }, ctx))).toBe('HostnameOutsideDomain');
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'n', holder: vm('c'), hostname: 'web' }, ctx)).created).toBe(true);
  });

  it('drops a claim that no longer belongs to its allocation (the pool changed domain) instead of refusing for it', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'a', { ranges: ['10.11.0.0/24'], dns: { domain: 'old.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'b', { ranges: ['fd00:12::/120'], dns: { domain: 'old.example.com' } }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'a', holder: vm('a'), hostname: 'host' }, ctx);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), hostname: 'host' }, ctx))).toBe('HostnameTaken');
    await ipam.updatePool('c', 'z', 'a', { dns: { domain: 'new.example.com' } }, ctx);
    const fresh = new Ipam(store); // no cached pool
    expect((await fresh.allocate({ cloud: 'c', zone: 'z', pool: 'b', holder: vm('b'), hostname: 'host' }, ctx)).created).toBe(true);
  });

  it('environments: a slot whose hostname is held fails the environment (nothing allocated); a repeat is unchanged', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.13.0.0/24'], dns: { domain: 'd.example.com' } }, ctx);
    const envs = new Environments(ipam, store);
    const spec = { slots: { web: { zone: 'z', pool: 'p', vm: 'shop', count: 2, hostname: 'web' } } };
    const { view } = await envs.apply('c', 'shop', spec, ctx);
    expect((await envs.apply('c', 'shop', spec, ctx)).view).toEqual(view);
    const err = await errorOf(envs.apply('c', 'copy', { slots: { web: { zone: 'z', pool: 'p', vm: 'copy', hostname: 'web-2.d.example.com' } } }, ctx));
    expect(err).toMatchObject({ reason: 'EnvironmentConflict', details: { cause: 'HostnameTaken' } });
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('2');
  });
});

describe('import', () => {
  it('refuses a MAC or hostname given twice (400) and one held already (409) before writing anything, and writes the claims', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.14.0.0/24'], dns: { domain: 'd.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'q', { ranges: ['fd00:15::/120'], dns: { domain: 'd.example.com' } }, ctx);
    const rec = (id: string, extra: { mac?: string; hostname?: string }) => ({ holder: vm(id), ...extra });
    const dupMac = [rec('a', { mac: '02:00:00:00:00:01' }), rec('b', { mac: '02-00-00-00-00-01' })];
    const dupName = [rec('a', { hostname: 'h' }), rec('b', { hostname: 'H.d.example.com.' })];
    const outside = [rec('a', { hostname: 'h.other.example.com' })];
    expect(await reasonOf(ipam.importAllocations('c', 'z', 'p', dupMac, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.importAllocations('c', 'z', 'p', dupName, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.importAllocations('c', 'z', 'p', outside, ctx))).toBe('HostnameOutsideDomain');
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'q', holder: vm('q1'), hostname: 'taken' }, ctx);
    const held = await errorOf(ipam.importAllocations('c', 'z', 'p', [rec('a', { hostname: 'free' }), rec('b', { hostname: 'taken' })], ctx));
    expect(held!.reason).toBe('HostnameTaken');
    const pool = await ipam.getPool('c', 'z', 'p');
    expect(pool.allocated).toBe('0');
    expect(pool.importing).toBeUndefined();
    expect((await ipam.listAllocations('c', 'z', 'p')).items).toEqual([]);
    // A good import writes the claims: its MACs and names are taken afterwards.
    const mac = (i: number) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`;
    const good = Array.from({ length: 200 }, (_, i) => rec(`i${i}`, { mac: mac(i), hostname: `i${i}` }));
    expect(await ipam.importAllocations('c', 'z', 'p', good, ctx)).toEqual({ imported: 200 });
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('new'), mac: mac(7) }, ctx))).toBe('MacTaken');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'q', holder: vm('new'), hostname: 'i7' }, ctx))).toBe('HostnameTaken');
    // Released, an imported allocation gives its claims up like any other.
    const i7 = (await ipam.byHolder('c', vm('i7')))[0]!;
    await ipam.release('c', i7.address, undefined, ctx);
    expect((await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'q', holder: vm('new'), hostname: 'i7', mac: mac(7) }, ctx)).created).toBe(true);
  });
});

describe('repair', () => {
  it('recreates a missing MAC or FQDN claim from the allocation records and deletes one that points at nothing', async () => {
    const { ipam, store, doc, table } = await freshIpam();
    const { pool } = await ipam.createPool('c', 'z', 'p', { ranges: ['10.16.0.0/24'], dns: { domain: 'd.example.com' } }, ctx);
    const a = (await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('a'), mac: '02:00:00:00:00:01', hostname: 'a' }, ctx)).allocation;
    const macKey = keys.mac('c', pool.uid, '02:00:00:00:00:01');
    const fqdnKey = keys.fqdn('c', 'a.d.example.com');
    expect((await doc.send(new GetCommand({ TableName: table, Key: macKey }))).Item).toMatchObject({ type: 'mac', address: a.address, vm: 'a' });
    // A replica that received the record but not its claim; and a claim left behind by nothing.
    await doc.send(new DeleteCommand({ TableName: table, Key: macKey }));
    const stray = { ...fqdnKey, pk: keys.fqdn('c', 'ghost.d.example.com').pk };
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const fqdnItem = (await doc.send(new GetCommand({ TableName: table, Key: fqdnKey }))).Item!;
    await doc.send(new PutCommand({ TableName: table, Item: { ...fqdnItem, ...stray, value: 'ghost.d.example.com', address: '10.16.0.250' } }));
    expect(await repairTable(store)).toMatchObject({ uniqueCreated: 1, uniqueDeleted: 1, uniqueConflicts: 0 });
    expect((await doc.send(new GetCommand({ TableName: table, Key: macKey }))).Item).toMatchObject({ type: 'mac', address: a.address });
    expect((await doc.send(new GetCommand({ TableName: table, Key: stray }))).Item).toBeUndefined();
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: vm('b'), mac: '02:00:00:00:00:01' }, ctx))).toBe('MacTaken');
    expect(await repairTable(store)).toMatchObject({ uniqueCreated: 0, uniqueDeleted: 0 });
  });
});

describe('over HTTP', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('answers 409 MacTaken / HostnameTaken (problem+json reason) and 400 HostnameOutsideDomain to a zone pipeline', async () => {
    const admin = svc.client(ADMIN);
    await admin.createPool('c1', 'dmz', 'web', { ranges: ['10.20.0.0/24'], dns: { domain: 'shop.example.com' } });
    await admin.createPool('c1', 'dmz', 'db', { ranges: ['fd00:21::/120'], dns: { domain: 'shop.example.com' } });
    await admin.allocate('c1', 'dmz', 'db', { vm: 'db1', hostname: 'db1', mac: '52:54:00:aa:bb:cc' });
    const dmz = svc.client(DMZ_ONLY);
    const first = await dmz.allocate('c1', 'dmz', 'web', { vm: 'web1', mac: '52:54:00:aa:bb:cc', hostname: 'web1' }); // another pool outside networks: its own MAC scope
    const taken = (await dmz.request('POST', '/v1/clouds/c1/zones/dmz/pools/web/allocations', { body: { vm: 'web2', hostname: 'db1.shop.example.com' } }).catch((e) => e)) as ApiError;
    expect(taken).toMatchObject({ status: 409, problem: { reason: 'HostnameTaken', status: 409, details: { fqdn: 'db1.shop.example.com' } } });
    expect(taken.problem!.detail).toContain('vm:db1');
    const mac = (await dmz.request('POST', '/v1/clouds/c1/zones/dmz/pools/web/allocations', { body: { vm: 'web2', mac: '52-54-00-AA-BB-CC' } }).catch((e) => e)) as ApiError;
    expect(mac).toMatchObject({ status: 409, problem: { reason: 'MacTaken' } });
    const outside = (await dmz.request('POST', '/v1/clouds/c1/zones/dmz/pools/web/allocations', { body: { vm: 'web2', hostname: 'db1.other.example.com' } }).catch((e) => e)) as ApiError;
    expect(outside).toMatchObject({ status: 400, problem: { reason: 'HostnameOutsideDomain' } });
    const second = await dmz.allocate('c1', 'dmz', 'web', { vm: 'web2', hostname: 'web2' });
    const patch = (await dmz.request('PATCH', `/v1/clouds/c1/zones/dmz/addresses/${second.allocation.address}`, { body: { hostname: 'web1' } }).catch((e) => e)) as ApiError;
    expect(patch).toMatchObject({ status: 409, problem: { reason: 'HostnameTaken' } });
    expect((await dmz.request<any>('GET', `/v1/clouds/c1/zones/dmz/addresses/${second.allocation.address}`)).body.hostname).toBe('web2');
    expect(first.allocation.hostname).toBe('web1');
  });
});
