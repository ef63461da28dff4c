/**
 * DHCP per network (issue 11, item 6): one subnet per IPv4 network with its options, reservations only.
 *
 * - The renderer over crafted data: the issue's DHCP attacks and duplicates, and data the engine
 *   would refuse (it must still be safe: never drop or move another zone's reservation, never merge zones).
 * - The output checked by the real servers' own checkers: `kea-dhcp4 -t` and `dnsmasq --test`
 *   (required tools: a missing one fails the tests; CI installs them from .ci/apt-packages).
 * - Through the engine on DynamoDB Local, and through the route table.
 * test/dhcp-netns.test.ts serves the export to real DHCP clients.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dhcpHostname, dhcpPlan, dhcpReservations, keaSubnetId, renderDhcp, type DhcpOptions } from '../lib/integrations/dhcp.js';
import { collect } from '../lib/integrations/dns/zones.js';
import { integrationRoutes } from '../lib/api/routes-integrations.js';
import { Router } from '../lib/api/routes.js';
import { Environments } from '../lib/engine/environments.js';
import type { Ipam } from '../lib/engine/ipam.js';
import type { Allocation, Pool } from '../lib/core/model.js';
import type { Network, NetworkSpec } from '../lib/core/network.js';
import { tool } from './tools.js';
import { ctx, ddbEndpoint, freshIpam, ipamOn } from './support.js';
import { DMZ_ONLY, startService, type RunningService } from './service.js';

const exec = promisify(execFile);
const C = 'd1';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dhcp-'));
});

// ---- crafted data -------------------------------------------------------------------------------

const T = '2026-01-01T00:00:00.000Z';
function net(zone: string, name: string, cidr: string, extra: Partial<Network> = {}): Network {
  return { cloud: C, zone, name, uid: `${zone}-${name}`, family: cidr.includes(':') ? 6 : 4, cidr, prefixLength: Number(cidr.split('/')[1]), dnsServers: [], searchDomains: [], ntpServers: [], routes: [], tags: {}, metadata: {}, createdAt: T, createdBy: 'p', updatedAt: T, updatedBy: 'p', ...extra };
}
function pool(zone: string, name: string, ranges: string[], network?: string, extra: Partial<Pool> = {}): Pool {
  return { cloud: C, zone, name, uid: `${zone}-${name}`, family: ranges[0]!.includes(':') ? 6 : 4, ranges, exclude: [], ...(network ? { network } : {}), tags: {}, metadata: {}, size: '0', epoch: 1, shards: 1, createdAt: T, createdBy: 'p', updatedAt: T, updatedBy: 'p', ...extra };
}
function alloc(p: Pool, address: string, vm: string, extra: Partial<Allocation> = {}): Allocation {
  const family = address.includes(':') ? 6 : 4;
  const prefixLength = extra.prefixLength ?? (family === 4 ? 32 : 128);
  return { cloud: C, zone: p.zone, pool: p.name, address, cidr: `${address}/${prefixLength}`, prefixLength, family, vm, name: 'eth0', tags: {}, metadata: {}, allocatedAt: T, allocatedBy: 'p', version: 1, ...extra };
}

interface World {
  networks: Network[];
  pools: Pool[];
  allocations: Allocation[];
}
/** Where the store would hand a record out (a pool's chunks), when a crafted record says another zone or pool. */
const readFrom = new WeakMap<Allocation, string>();
const storedIn = (where: string, a: Allocation) => (readFrom.set(a, where), a);
const render = (w: World, opts: DhcpOptions) =>
  collect(renderDhcp(C, w.networks, w.pools, (p) => w.allocations.filter((a) => (readFrom.get(a) ?? `${a.zone}/${a.pool}`) === `${p.zone}/${p.name}`), opts));

interface KeaSubnet {
  id: number;
  subnet: string;
  'option-data': { name: string; data: string }[];
  reservations: { 'hw-address': string; 'ip-address': string; hostname?: string }[];
  'user-context': { ipam: { cloud: string; zone: string; network: string; pools: string[]; skipped?: { address: string; holder: string; reason: string }[] } };
  [k: string]: unknown;
}
interface KeaFragment {
  subnet4: KeaSubnet[];
  'user-context': { ipam: { cloud: string; notExported?: { pool?: string; network?: string; reason: string }[] } };
}
const kea = async (w: World, f: Omit<DhcpOptions, 'format'> = {}) => JSON.parse(await render(w, { format: 'kea', ...f })) as KeaFragment;
const dnsmasq = (w: World, f: Omit<DhcpOptions, 'format'> = {}) => render(w, { format: 'dnsmasq', ...f });
const configLines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

// The setup: zone `other` owns network 10.2.0.0/24 (domain other.example.com) with VM db1, MAC 52:54:00:aa:bb:cc.
const VICTIM_MAC = '52:54:00:aa:bb:cc';
const otherNet = net('other', 'db', '10.2.0.0/24', {
  gateway: '10.2.0.1',
  dnsServers: ['10.2.0.53', '2001:db8::53', '10.2.0.54'],
  searchDomains: ['other.example.com', 'example.com'],
  ntpServers: ['10.2.0.123', 'ntp.example.com'],
  mtu: 1400,
  dns: { domain: 'other.example.com' },
});
const otherPool = pool('other', 'db', ['10.2.0.10-10.2.0.99'], 'db');
const victim = alloc(otherPool, '10.2.0.10', 'db1', { mac: VICTIM_MAC, hostname: 'db1' });
const dmzNet = net('dmz', 'web', '10.3.0.0/24');
const dmzPool = pool('dmz', 'web', ['10.3.0.0/24'], 'web');
const base: World = {
  networks: [otherNet, dmzNet, net('other', 'v6', 'fd00:2::/64', { gateway: 'fe80::1' })],
  pools: [otherPool, dmzPool, pool('other', 'v6', ['fd00:2::/120'], 'v6')],
  allocations: [victim, alloc(dmzPool, '10.3.0.5', 'web1', { mac: '52:54:00:00:03:05', hostname: 'web1' }), alloc(dmzPool, '10.3.0.6', 'web2', { hostname: 'web2' })],
};
const with_ = (w: World, more: Partial<World>): World => ({ networks: [...w.networks, ...(more.networks ?? [])], pools: [...w.pools, ...(more.pools ?? [])], allocations: [...w.allocations, ...(more.allocations ?? [])] });
const victimEntry = (f: KeaFragment) => f.subnet4.find((s) => s.subnet === '10.2.0.0/24');

describe('one subnet per IPv4 network, reservations only', () => {
  it('kea: a subnet4 entry per IPv4 network with its options and no pools', async () => {
    const f = await kea(base);
    expect(f.subnet4.map((s) => s.subnet)).toEqual(['10.2.0.0/24', '10.3.0.0/24']);
    expect(f.subnet4[0]).toEqual({
      id: keaSubnetId(C, '10.2.0.0/24'),
      subnet: '10.2.0.0/24',
      'reservations-global': false,
      'reservations-in-subnet': true,
      'option-data': [
        { name: 'routers', data: '10.2.0.1' },
        { name: 'domain-name-servers', data: '10.2.0.53, 10.2.0.54' },
        { name: 'domain-name', data: 'other.example.com' },
        { name: 'domain-search', data: 'other.example.com, example.com' },
        { name: 'ntp-servers', data: '10.2.0.123' },
        { name: 'interface-mtu', data: '1400' },
      ],
      reservations: [{ 'hw-address': VICTIM_MAC, 'ip-address': '10.2.0.10', hostname: 'db1.other.example.com' }],
      'user-context': { ipam: { cloud: C, zone: 'other', network: 'db', pools: ['other/db'] } },
    });
    expect(f.subnet4[1]).toMatchObject({ 'option-data': [], reservations: [{ 'hw-address': '52:54:00:00:03:05', 'ip-address': '10.3.0.5', hostname: 'web1' }] });
    for (const s of f.subnet4) expect(s).not.toHaveProperty('pools');
    expect(f['user-context']).toEqual({ ipam: { cloud: C } });
  });

  it('dnsmasq: a static dhcp-range per network, its options tagged, dhcp-host lines', async () => {
    const text = await dnsmasq(base);
    expect(configLines(text)).toEqual([
      'dhcp-range=set:other.db,10.2.0.0,static,255.255.255.0',
      'dhcp-option=tag:other.db,option:router,10.2.0.1',
      'dhcp-option=tag:other.db,option:dns-server,10.2.0.53,10.2.0.54',
      'dhcp-option=tag:other.db,option:domain-name,other.example.com',
      'domain=other.example.com,10.2.0.0/24',
      'dhcp-option=tag:other.db,option:domain-search,other.example.com,example.com',
      'dhcp-option=tag:other.db,option:ntp-server,10.2.0.123',
      'dhcp-option=tag:other.db,option:mtu,1400',
      `dhcp-host=${VICTIM_MAC},10.2.0.10,db1.other.example.com`,
      'dhcp-range=set:dmz.web,10.3.0.0,static,255.255.255.0',
      'dhcp-option=tag:dmz.web,option:router',
      'dhcp-option=tag:dmz.web,option:dns-server',
      'dhcp-host=52:54:00:00:03:05,10.3.0.5,web1',
    ]);
    expect(text).toContain('# network other/db 10.2.0.0/24 (pools other/db)\n');
  });

  it('ids are stable: a hash of cloud and CIDR, the same whatever the filter', async () => {
    const all = await kea(base);
    const one = await kea(base, { zone: 'dmz' });
    expect(one.subnet4.map((s) => [s.subnet, s.id])).toEqual([['10.3.0.0/24', all.subnet4[1]!.id]]);
    expect(keaSubnetId(C, '10.3.0.0/24')).toBe(all.subnet4[1]!.id);
    const ids = new Set<number>();
    const id = keaSubnetId(C, '10.2.0.0/24', ids);
    expect(keaSubnetId(C, '10.2.0.0/24', ids)).not.toBe(id);
  });

  it('filters by zone, network and pool', async () => {
    const w = with_(base, { networks: [net('dmz', 'db', '10.4.0.0/24')], pools: [pool('dmz', 'db', ['10.4.0.10-10.4.0.20'], 'db'), pool('dmz', 'db2', ['10.4.0.30-10.4.0.40'], 'db')] });
    w.allocations.push(alloc(w.pools[3]!, '10.4.0.10', 'a', { mac: '52:54:00:00:04:10' }), alloc(w.pools[4]!, '10.4.0.30', 'b', { mac: '52:54:00:00:04:30' }));
    const subnets = async (f: Omit<DhcpOptions, 'format'>) => (await kea(w, f)).subnet4.map((s) => [s.subnet, s.reservations.map((r) => r['ip-address'])]);
    expect(await subnets({ zone: 'dmz' })).toEqual([['10.3.0.0/24', ['10.3.0.5']], ['10.4.0.0/24', ['10.4.0.10', '10.4.0.30']]]);
    expect(await subnets({ network: 'db' })).toEqual([['10.2.0.0/24', ['10.2.0.10']], ['10.4.0.0/24', ['10.4.0.10', '10.4.0.30']]]);
    expect(await subnets({ zone: 'dmz', network: 'db' })).toEqual([['10.4.0.0/24', ['10.4.0.10', '10.4.0.30']]]);
    expect(await subnets({ pool: 'db2' })).toEqual([['10.4.0.0/24', ['10.4.0.30']]]);
    expect(await subnets({ zone: 'nope' })).toEqual([]);
    expect(configLines(await dnsmasq(w, { zone: 'dmz', network: 'db', pool: 'db' }))).toEqual([
      'dhcp-range=set:dmz.db,10.4.0.0,static,255.255.255.0',
      'dhcp-option=tag:dmz.db,option:router',
      'dhcp-option=tag:dmz.db,option:dns-server',
      'dhcp-host=52:54:00:00:04:10,10.4.0.10',
    ]);
  });

  it('passes kea-dhcp4 -t as a whole Dhcp4 config, and the checker is real', async () => {
    const bin = tool('kea-dhcp4', 'kea-dhcp4-server');
    const f = await kea(base);
    const conf = (frag: object) => ({ Dhcp4: { 'interfaces-config': { interfaces: [] }, 'lease-database': { type: 'memfile', persist: false }, 'valid-lifetime': 3600, ...frag } });
    const good = path.join(dir, 'kea.json');
    writeFileSync(good, JSON.stringify(conf(f), null, 2));
    const r = await exec(bin, ['-t', good]).catch((e) => e);
    expect(r.code ?? 0, `kea-dhcp4 -t:\n${r.stdout}${r.stderr}`).toBe(0);
    const bad = path.join(dir, 'kea-bad.json');
    const dup = { ...f.subnet4[0]!, reservations: [...f.subnet4[0]!.reservations, { 'hw-address': VICTIM_MAC, 'ip-address': '10.2.0.11' }] };
    writeFileSync(bad, JSON.stringify(conf({ subnet4: [dup] })));
    expect((await exec(bin, ['-t', bad]).catch((e) => e)).code).not.toBe(0);
  });

  it('passes dnsmasq --test as its configuration file, and the checker is real', async () => {
    const bin = tool('dnsmasq', 'dnsmasq-base');
    const conf = path.join(dir, 'dnsmasq.conf');
    writeFileSync(conf, await dnsmasq(base));
    const r = await exec(bin, ['--test', `--conf-file=${conf}`, '--port=0']).catch((e) => e);
    expect(`${r.stdout}${r.stderr}`).toMatch(/syntax check OK/);
    writeFileSync(conf, `${await dnsmasq(base)}dhcp-option=tag:other.db,option:mtu,big\n`);
    expect((await exec(bin, ['--test', `--conf-file=${conf}`, '--port=0']).catch((e) => e)).code).not.toBe(0);
  });
});

describe("the issue's DHCP attacks: a dmz caller's data never reaches another zone's subnet", () => {
  it('a dmz pool spanning 10.0.0.1..10.255.255.254 with the victim MAC merges nothing and drops nothing', async () => {
    const wide = pool('dmz', 'wide', ['10.0.0.1', '10.255.255.254']);
    const w = with_(base, { pools: [wide], allocations: [alloc(wide, '10.0.0.1', 'evil', { mac: VICTIM_MAC, hostname: 'db1' })] });
    const f = await kea(w);
    expect(f.subnet4.map((s) => s.subnet)).toEqual(['10.2.0.0/24', '10.3.0.0/24']);
    expect(victimEntry(f)).toEqual(victimEntry(await kea(base)));
    expect(f['user-context'].ipam.notExported).toEqual([{ pool: 'dmz/wide', reason: 'in no network' }]);
    const text = await dnsmasq(w);
    expect(text).not.toMatch(/10\.0\.0\.0|255\.0\.0\.0|10\.0\.0\.1\b/);
    expect(configLines(text)).toEqual(configLines(await dnsmasq(base)));
    expect(text).toContain('# not exported: pool dmz/wide (in no network)\n');
  });

  it("the victim's MAC in the attacker's own network is a reservation there only", async () => {
    const w = with_(base, { allocations: [alloc(dmzPool, '10.3.0.7', 'evil', { mac: VICTIM_MAC, hostname: 'db1' })] });
    const f = await kea(w);
    expect(victimEntry(f)).toEqual(victimEntry(await kea(base)));
    expect(f.subnet4[1]!.reservations).toContainEqual({ 'hw-address': VICTIM_MAC, 'ip-address': '10.3.0.7', hostname: 'db1' });
  });

  it('a dmz pool naming the other zone’s network is not in it', async () => {
    const sneaky = pool('dmz', 'sneak', ['10.2.0.200-10.2.0.210'], 'db');
    const w = with_(base, { pools: [sneaky], allocations: [alloc(sneaky, '10.2.0.200', 'evil', { mac: '52:54:00:00:66:66', hostname: 'db1.other.example.com' })] });
    const f = await kea(w);
    expect(victimEntry(f)).toEqual(victimEntry(await kea(base)));
    expect(f['user-context'].ipam.notExported).toEqual([{ pool: 'dmz/sneak', reason: 'its network dmz/db is not exported or not an IPv4 network of this cloud' }]);
  });

  it('an allocation record outside its network, or recorded in another pool, is skipped', async () => {
    const w = with_(base, {
      allocations: [
        alloc(dmzPool, '10.2.0.77', 'evil', { mac: '52:54:00:00:66:01' }),
        storedIn('dmz/web', alloc(otherPool, '10.2.0.78', 'evil2', { mac: '52:54:00:00:66:02' })),
      ],
    });
    const f = await kea(w);
    expect(victimEntry(f)!.reservations).toEqual(victimEntry(await kea(base))!.reservations);
    expect(f.subnet4[1]!['user-context'].ipam.skipped).toEqual([
      { address: '10.2.0.77', holder: 'vm:evil', reason: 'outside the network 10.3.0.0/24' },
      { address: '10.2.0.78', holder: 'vm:evil2', reason: 'recorded in another pool than dmz/web' },
    ]);
  });

  it('another zone’s FQDN is never handed out as a host name', async () => {
    const w = with_(base, { allocations: [alloc(dmzPool, '10.3.0.8', 'evil', { mac: '52:54:00:00:66:08', hostname: 'db1.other.example.com' })] });
    expect((await kea(w)).subnet4[1]!.reservations).toContainEqual({ 'hw-address': '52:54:00:00:66:08', 'ip-address': '10.3.0.8' });
    expect(dhcpHostname('db1', 'other.example.com')).toBe('db1.other.example.com');
    expect(dhcpHostname('DB1.Other.Example.com.', 'other.example.com')).toBe('db1.other.example.com');
    expect(dhcpHostname('db1.other.example.com', 'dmz.example.com')).toBeUndefined();
    expect(dhcpHostname('xother.example.com', 'other.example.com')).toBeUndefined();
    expect(dhcpHostname('db1.other.example.com', undefined)).toBeUndefined();
    expect(dhcpHostname('db1', undefined)).toBe('db1');
  });

  it('networks that overlap in stored data (the engine refuses it) are left out, all of them, and named', async () => {
    const w = with_(base, { networks: [net('dmz', 'big', '10.0.0.0/8')] });
    const f = await kea(w);
    expect(f.subnet4).toEqual([]);
    expect(f['user-context'].ipam.notExported).toEqual([
      { network: 'dmz/big', reason: '10.0.0.0/8 overlaps another network of the cloud' },
      { network: 'other/db', reason: '10.2.0.0/24 overlaps another network of the cloud' },
      { network: 'dmz/web', reason: '10.3.0.0/24 overlaps another network of the cloud' },
      { pool: 'other/db', reason: 'its network other/db is not exported or not an IPv4 network of this cloud' },
      { pool: 'dmz/web', reason: 'its network dmz/web is not exported or not an IPv4 network of this cloud' },
    ]);
  });

  it("property: whatever a dmz caller's data says, the other zone's subnet, options and reservations are unchanged", async () => {
    const victimKea = victimEntry(await kea(base));
    const victimDnsmasq = (text: string) => text.split('\n').filter((l) => l.includes('other.db') || l.includes('10.2.0.') || l.includes(VICTIM_MAC));
    const expected = victimDnsmasq(await dnsmasq(base));
    const octet = fc.integer({ min: 0, max: 255 });
    const v4 = fc.oneof(fc.tuple(fc.constant(10), fc.constantFrom(0, 2, 3, 255), octet, octet).map((o) => o.join('.')), fc.constantFrom('10.0.0.1', '10.255.255.254', '10.2.0.10', '10.2.0.0', '10.2.0.255', '10.2.0.1'));
    const mac = fc.oneof(fc.constant(VICTIM_MAC), fc.constant('52-54-00-AA-BB-CC'), fc.constant('52:54:00:00:00:01'), fc.string({ maxLength: 20 }));
    const hostname = fc.oneof(fc.constant(undefined), fc.constantFrom('db1', 'db1.other.example.com', 'ns1.other.example.com', 'a\ndhcp-range=10.2.0.0,static', 'x,10.2.0.10'), fc.domain());
    const dmzAlloc = fc.record({ pool: fc.constantFrom('web', 'wide', 'sneak'), address: v4, mac, hostname, vm: fc.constantFrom('evil', 'db1', 'x\ny'), zone: fc.constantFrom('dmz', 'dmz', 'other'), prefixLength: fc.constantFrom(32, 32, 24) });
    await fc.assert(
      fc.asyncProperty(fc.array(dmzAlloc, { maxLength: 12 }), fc.subarray(['10.0.0.1', '10.255.255.254', '10.2.0.0/24', '10.2.0.10']), async (allocs, wideRanges) => {
        const pools = [pool('dmz', 'wide', wideRanges.length ? wideRanges : ['10.0.0.1']), pool('dmz', 'sneak', ['10.2.0.200'], 'db')];
        const w = with_(base, {
          pools,
          // Whatever the records say (zone `other`, pool `db`), they are stored in dmz pools.
          allocations: allocs.map((a) => storedIn(`dmz/${a.pool}`, { ...alloc(dmzPool, a.address, a.vm, { mac: a.mac, prefixLength: a.prefixLength, ...(a.hostname ? { hostname: a.hostname } : {}) }), ...(a.zone === 'other' ? { zone: 'other', pool: 'db' } : { pool: a.pool }) })),
        });
        const f = await kea(w);
        expect(victimEntry(f)).toEqual(victimKea);
        expect(f.subnet4.map((s) => s.subnet)).toEqual(['10.2.0.0/24', '10.3.0.0/24']);
        const text = await dnsmasq(w);
        expect(victimDnsmasq(text).filter((l) => !l.startsWith('#'))).toEqual(expected.filter((l) => !l.startsWith('#')));
        for (const l of configLines(text)) expect(l).toMatch(/^(dhcp-range=set:|dhcp-option=tag:|domain=|dhcp-host=[0-9a-f:]{17},10\.[23]\.0\.\d+(,[a-z0-9.-]+)?$)/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('duplicates and crafted records (refused at write time, still safe here)', () => {
  it('a MAC or an address is reserved once per network: the first wins, the others are named', async () => {
    const w = with_(base, {
      allocations: [
        alloc(dmzPool, '10.3.0.9', 'dup-mac', { mac: '52-54-00-00-03-05' }),
        alloc(dmzPool, '10.3.0.5', 'dup-addr', { mac: '52:54:00:00:03:99' }),
        alloc(dmzPool, '10.3.0.0', 'net-addr', { mac: '52:54:00:00:03:98' }),
        alloc(dmzPool, '10.3.0.255', 'bcast', { mac: '52:54:00:00:03:97' }),
        alloc(dmzPool, '10.3.0.10', 'badmac', { mac: '52:54:00:00:03:05\ndhcp-range=10.2.0.0,static' }),
        alloc(dmzPool, '10.3.0.11', 'x\ndhcp-host=1', { mac: '52:54:00:00:03:05' }),
        alloc(dmzPool, '10.3.0.12', 'blk', { mac: '52:54:00:00:03:96', prefixLength: 30 }),
      ],
    });
    const f = await kea(w);
    expect(f.subnet4[1]!.reservations).toEqual([{ 'hw-address': '52:54:00:00:03:05', 'ip-address': '10.3.0.5', hostname: 'web1' }]);
    expect(f.subnet4[1]!['user-context'].ipam.skipped).toEqual([
      { address: '10.3.0.9', holder: 'vm:dup-mac', reason: 'MAC 52:54:00:00:03:05 is already reserved in this network' },
      { address: '10.3.0.5', holder: 'vm:dup-addr', reason: 'the address is already reserved in this network' },
      { address: '10.3.0.0', holder: 'vm:net-addr', reason: 'the network, broadcast or gateway address of 10.3.0.0/24' },
      { address: '10.3.0.255', holder: 'vm:bcast', reason: 'the network, broadcast or gateway address of 10.3.0.0/24' },
      { address: '10.3.0.10', holder: 'vm:badmac', reason: 'not a MAC address' },
      { address: '10.3.0.11', holder: 'vm:x?dhcp-host?1', reason: 'MAC 52:54:00:00:03:05 is already reserved in this network' },
    ]);
    const text = await dnsmasq(w);
    expect(text).toContain('# skipped 10.3.0.9 (vm:dup-mac): MAC 52:54:00:00:03:05 is already reserved in this network\n');
    expect(configLines(text).filter((l) => l.startsWith('dhcp-host='))).toEqual([`dhcp-host=${VICTIM_MAC},10.2.0.10,db1.other.example.com`, 'dhcp-host=52:54:00:00:03:05,10.3.0.5,web1']);
    expect(configLines(text).filter((l) => !/^(dhcp-range=set:|dhcp-option=tag:|domain=|dhcp-host=)/.test(l))).toEqual([]);
    // The same MAC in two networks is two reservations, one per subnet (test/dhcp-netns.test.ts shows a server picks the right one).
    const both = with_(base, { allocations: [alloc(dmzPool, '10.3.0.20', 'db1-dmz', { mac: VICTIM_MAC })] });
    expect((await kea(both)).subnet4.map((s) => s.reservations.filter((r) => r['hw-address'] === VICTIM_MAC).map((r) => r['ip-address']))).toEqual([['10.2.0.10'], ['10.3.0.20']]);
  });

  it("a network's options keep only what DHCPv4 can carry", () => {
    const n = net('z', 'n', '10.9.0.0/24', { gateway: '10.9.0.255', dnsServers: ['10.9.0.53', '10.9.0.53', 'fd00::53', 'x,y'], searchDomains: ['ok.example', 'bad domain', 'a,b'], ntpServers: ['10.9.0.1'], mtu: 20, dns: { domain: 'n.example\n' } });
    expect(dhcpPlan(C, [n], []).subnets[0]!.options).toEqual({ dnsServers: ['10.9.0.53'], searchDomains: ['ok.example'], ntpServers: ['10.9.0.1'] });
    const ok = net('z', 'n', '10.9.0.0/24', { gateway: '10.9.0.1', mtu: 9000 });
    expect(dhcpPlan(C, [ok], []).subnets[0]!.options).toEqual({ routers: '10.9.0.1', dnsServers: [], searchDomains: [], ntpServers: [], mtu: 9000 });
    expect(dhcpPlan(C, [net('z', 'n', '10.9.0.0/24', { gateway: '10.8.0.1' })], []).subnets[0]!.options.routers).toBeUndefined();
  });
});

// ---- through the engine on DynamoDB Local ---------------------------------------------------------

const OTHER_DB: NetworkSpec = { cidr: '10.2.0.0/24', gateway: '10.2.0.1', dnsServers: ['10.2.0.53', '2001:db8::53'], searchDomains: ['other.example.com'], ntpServers: ['10.2.0.123', 'ntp.example.com'], mtu: 1400, dns: { domain: 'other.example.com' } };
const DMZ_WEB: NetworkSpec = { cidr: '10.3.0.0/24', gateway: '10.3.0.1', dnsServers: ['10.3.0.53'] };

/** The cloud: zone `other` with network db and VM db1 (the victim's MAC), zone `dmz` with network web. */
async function seed(ipam: Ipam, cloud: string) {
  await ipam.createNetwork(cloud, 'other', 'db', OTHER_DB, ctx);
  await ipam.createNetwork(cloud, 'dmz', 'web', DMZ_WEB, ctx);
  await ipam.createNetwork(cloud, 'other', 'v6', { cidr: 'fd00:2::/64', gateway: 'fe80::1' }, ctx);
  await ipam.createPool(cloud, 'other', 'db', { ranges: ['10.2.0.0/24'], network: 'db' }, ctx);
  await ipam.createPool(cloud, 'dmz', 'web', { ranges: ['10.3.0.0/25'], network: 'web' }, ctx);
  await ipam.createPool(cloud, 'other', 'v6', { ranges: ['fd00:2::/120'], network: 'v6' }, ctx);
  const a = (zone: string, pool: string, vm: string, extra: object) => ipam.allocate({ cloud, zone, pool, holder: { kind: 'vm', id: vm }, ...extra }, ctx);
  await a('other', 'db', 'db1', { address: '10.2.0.10', mac: VICTIM_MAC, hostname: 'db1' });
  await a('other', 'db', 'db2', { address: '10.2.0.11', mac: '52:54:00:00:02:11', hostname: 'db2.other.example.com' });
  await a('other', 'db', 'nomac', { address: '10.2.0.12', hostname: 'nomac' });
  await a('other', 'db', 'blk', { address: '10.2.0.16', prefixLength: 30, mac: '52:54:00:00:02:16' });
  await a('other', 'v6', 'v6host', { address: 'fd00:2::5', mac: '52:54:00:00:66:05' });
  await a('dmz', 'web', 'web1', { address: '10.3.0.5', mac: '52:54:00:00:03:05', hostname: 'web1' });
}

describe('through the engine and the route table', () => {
  let ipam: Ipam;
  let environments: Environments;
  const CLOUD = 'e1';
  const router = new Router(integrationRoutes);
  const call = (query: Record<string, string>) => router.handle({ ipam, environments }, { method: 'GET', path: `/v1/clouds/${CLOUD}/dhcp`, query, headers: {}, body: null, principal: 'test', requestId: 'r1' });

  beforeAll(async () => {
    const fresh = await freshIpam();
    ({ ipam } = fresh);
    environments = new Environments(ipam, fresh.store);
    await seed(ipam, CLOUD);
  });

  it('exports each IPv4 network with its options and the single IPv4 allocations with a MAC of its pools', async () => {
    const r = await call({ format: 'kea' });
    expect(r.headers['content-type']).toBe('application/json');
    const f = JSON.parse(r.body) as KeaFragment;
    expect(f.subnet4.map((s) => [s.subnet, s.id])).toEqual([['10.2.0.0/24', keaSubnetId(CLOUD, '10.2.0.0/24')], ['10.3.0.0/24', keaSubnetId(CLOUD, '10.3.0.0/24')]]);
    expect(f.subnet4[0]!['option-data']).toEqual([
      { name: 'routers', data: '10.2.0.1' },
      { name: 'domain-name-servers', data: '10.2.0.53' },
      { name: 'domain-name', data: 'other.example.com' },
      { name: 'domain-search', data: 'other.example.com' },
      { name: 'ntp-servers', data: '10.2.0.123' },
      { name: 'interface-mtu', data: '1400' },
    ]);
    expect(f.subnet4[0]!.reservations).toEqual([
      { 'hw-address': VICTIM_MAC, 'ip-address': '10.2.0.10', hostname: 'db1.other.example.com' },
      { 'hw-address': '52:54:00:00:02:11', 'ip-address': '10.2.0.11', hostname: 'db2.other.example.com' },
    ]);
    expect(f.subnet4[1]!.reservations).toEqual([{ 'hw-address': '52:54:00:00:03:05', 'ip-address': '10.3.0.5', hostname: 'web1' }]);
    const dm = await call({ format: 'dnsmasq', zone: 'dmz' });
    expect(dm.headers['content-type']).toMatch(/^text\/plain/);
    expect(configLines(dm.body)).toEqual([
      'dhcp-range=set:dmz.web,10.3.0.0,static,255.255.255.0',
      'dhcp-option=tag:dmz.web,option:router,10.3.0.1',
      'dhcp-option=tag:dmz.web,option:dns-server,10.3.0.53',
      'dhcp-host=52:54:00:00:03:05,10.3.0.5,web1',
    ]);
    // Both pass the real checkers.
    writeFileSync(path.join(dir, 'engine-kea.json'), JSON.stringify({ Dhcp4: { 'interfaces-config': { interfaces: [] }, 'lease-database': { type: 'memfile', persist: false }, ...f } }));
    const k = await exec(tool('kea-dhcp4', 'kea-dhcp4-server'), ['-t', path.join(dir, 'engine-kea.json')]).catch((e) => e);
    expect(k.code ?? 0, `${k.stdout}${k.stderr}`).toBe(0);
    writeFileSync(path.join(dir, 'engine-dnsmasq.conf'), (await call({ format: 'dnsmasq' })).body);
    const d = await exec(tool('dnsmasq', 'dnsmasq-base'), ['--test', `--conf-file=${path.join(dir, 'engine-dnsmasq.conf')}`, '--port=0']).catch((e) => e);
    expect(`${d.stdout}${d.stderr}`).toMatch(/syntax check OK/);
  });

  it('filters by zone, network and pool; 400s bad filters', async () => {
    const subnets = async (q: Record<string, string>) => (JSON.parse((await call({ format: 'kea', ...q })).body) as KeaFragment).subnet4.map((s) => s.subnet);
    expect(await subnets({ zone: 'other' })).toEqual(['10.2.0.0/24']);
    expect(await subnets({ network: 'web' })).toEqual(['10.3.0.0/24']);
    expect(await subnets({ zone: 'other', network: 'web' })).toEqual([]);
    expect(await subnets({ pool: 'db' })).toEqual(['10.2.0.0/24']);
    expect(await subnets({ pool: 'v6' })).toEqual([]);
    const bad: Record<string, string>[] = [{ network: 'Bad_Name' }, { zone: '__proto__' }, { format: 'bind' }, { subnet: '10.0.0.0/8' }];
    for (const q of bad) expect((await call(q)).status, JSON.stringify(q)).toBe(400);
    await expect(collect(dhcpReservations(ipam, CLOUD, { format: 'kea', network: 'constructor!' }))).rejects.toMatchObject({ reason: 'InvalidInput' });
  });

  it("the issue's attack made through the engine: a dmz pool spanning 10.0.0.1..10.255.255.254 and the victim's MAC change nothing of zone other", async () => {
    const before = JSON.parse((await call({ format: 'kea' })).body) as KeaFragment;
    const beforeDm = configLines((await call({ format: 'dnsmasq', zone: 'other' })).body);
    await ipam.createPool(CLOUD, 'dmz', 'wide', { ranges: ['10.0.0.1', '10.255.255.254'] }, ctx);
    await ipam.allocate({ cloud: CLOUD, zone: 'dmz', pool: 'wide', holder: { kind: 'vm', id: 'evil' }, address: '10.0.0.1', mac: VICTIM_MAC, hostname: 'db1' }, ctx);
    await ipam.allocate({ cloud: CLOUD, zone: 'dmz', pool: 'web', holder: { kind: 'vm', id: 'evil' }, address: '10.3.0.66', mac: VICTIM_MAC }, ctx);
    const after = JSON.parse((await call({ format: 'kea' })).body) as KeaFragment;
    expect(after.subnet4.map((s) => s.subnet)).toEqual(['10.2.0.0/24', '10.3.0.0/24']);
    expect(victimEntry(after)).toEqual(victimEntry(before));
    expect(after['user-context'].ipam.notExported).toEqual([{ pool: 'dmz/wide', reason: 'in no network' }]);
    expect(configLines((await call({ format: 'dnsmasq', zone: 'other' })).body)).toEqual(beforeDm);
  });
});

// ---- over HTTP: a caller granted only zone dmz, the export read by a cloud-wide caller -------------

describe('over HTTP through the local service: a dmz-only caller cannot touch zone other’s DHCP', () => {
  let svc: RunningService;
  const table = `svc-dhcp-${randomBytes(4).toString('hex')}`;
  const CLOUD = 'c1'; // DMZ_ONLY's grant is clouds/c1/zones/dmz/*
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_TABLE: table });
    // Networks and the victim's data by a cloud-wide engine on the service's own table.
    await seed(ipamOn(table), CLOUD);
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it("the issue's DHCP reproductions, sent by the dmz pipeline, leave zone other's subnet, options and reservations as they were", async () => {
    const admin = svc.client();
    const dmz = svc.client(DMZ_ONLY);
    const exportKea = async () => (await admin.request<KeaFragment>('GET', `/v1/clouds/${CLOUD}/dhcp`, { query: { format: 'kea' } })).body;
    const exportDm = async () => (await admin.request<string>('GET', `/v1/clouds/${CLOUD}/dhcp`, { query: { format: 'dnsmasq', zone: 'other' }, accept: 'text/plain' })).body;
    const before = await exportKea();
    const beforeDm = configLines(await exportDm());
    expect(victimEntry(before)!.reservations[0]).toEqual({ 'hw-address': VICTIM_MAC, 'ip-address': '10.2.0.10', hostname: 'db1.other.example.com' });
    const tried = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { status?: number }) => e.status);
    // A pool spanning 10.0.0.1 .. 10.255.255.254 holding the victim's MAC; the victim's MAC and name in dmz's own network.
    expect(await tried(dmz.request('PUT', `/v1/clouds/${CLOUD}/zones/dmz/pools/wide`, { body: { ranges: ['10.0.0.1', '10.255.255.254'] } }))).toBe('ok');
    expect(await tried(dmz.request('POST', `/v1/clouds/${CLOUD}/zones/dmz/pools/wide/allocations`, { body: { vm: 'evil', address: '10.0.0.1', mac: VICTIM_MAC, hostname: 'db1' } }))).toBe('ok');
    expect(await tried(dmz.request('POST', `/v1/clouds/${CLOUD}/zones/dmz/pools/web/allocations`, { body: { vm: 'evil3', mac: VICTIM_MAC } }))).toBe('ok');
    // Refused once hostnames are checked against the network's domain (400) or MACs are claimed per network (409).
    const again = await tried(dmz.request('POST', `/v1/clouds/${CLOUD}/zones/dmz/pools/web/allocations`, { body: { vm: 'evil2', mac: VICTIM_MAC, hostname: 'db1.other.example.com' } }));
    expect(['ok', 400, 409]).toContain(again);
    // A pool of zone other, or zone other's export, is out of reach.
    expect(await tried(dmz.request('POST', `/v1/clouds/${CLOUD}/zones/other/pools/db/allocations`, { body: { vm: 'evil4', mac: '52:54:00:00:66:66' } }))).toBe(403);
    expect(await tried(dmz.request('GET', `/v1/clouds/${CLOUD}/dhcp`, { query: { format: 'kea' } }))).toBe(403);
    const after = await exportKea();
    expect(after.subnet4.map((s) => s.subnet)).toEqual(['10.2.0.0/24', '10.3.0.0/24']);
    expect(victimEntry(after)).toEqual(victimEntry(before));
    expect(after['user-context'].ipam.notExported).toEqual([{ pool: 'dmz/wide', reason: 'in no network' }]);
    expect(configLines(await exportDm())).toEqual(beforeDm);
  });
});
