/**
 * Networks (issue 11, items 1-3 and the domain part of 5) against DynamoDB Local: a zone's on-link
 * subnets, their validation, overlap and domain ownership across zones, pools inside them (their
 * reserved addresses never handed out), and every allocation answer carrying the network.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../lib/client/client.js';
import { readSecurityEventsFile } from '../lib/local/stream-reader.js';
import { ADMIN, startService } from './service.js';
import { IpamError } from '../lib/core/errors.js';
import type { NetworkSpec } from '../lib/core/network.js';
import { NetworkEntity } from '../lib/dynamo/entities/index.js';
import { Environments } from '../lib/engine/environments.js';
import { SecurityEventSchema, toSecurityEvents } from '../lib/events/security.js';
import { ctx, ddbEndpoint, freshIpam, reasonOf } from './support.js';

const LAN: NetworkSpec = {
  cidr: '10.20.0.0/24',
  gateway: '10.20.0.1',
  dnsServers: ['10.20.0.53', '10.0.0.53'],
  searchDomains: ['lan.example.com'],
  ntpServers: ['10.20.0.123', 'ntp.example.com'],
  mtu: 1500,
  vlan: 120,
  routes: [{ to: '192.168.0.0/16', via: '10.20.0.254' }],
  dns: { domain: 'lan.example.com' },
};

const NIC = { name: 'lan', cidr: '10.20.0.0/24', prefixLength: 24, gateway: '10.20.0.1', dnsServers: ['10.20.0.53', '10.0.0.53'], searchDomains: ['lan.example.com'], ntpServers: ['10.20.0.123', 'ntp.example.com'], mtu: 1500, vlan: 120, routes: [{ to: '192.168.0.0/16', via: '10.20.0.254' }] };

const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as IpamError);

describe('networks: lifecycle', () => {
  it('creates (idempotent PUT), shows, lists, changes and deletes a network', async () => {
    const { ipam } = await freshIpam();
    const { network, created } = await ipam.createNetwork('c', 'dmz', 'lan', LAN, ctx);
    expect(created).toBe(true);
    expect(network).toMatchObject({ cloud: 'c', zone: 'dmz', family: 4, ...NIC, dns: { domain: 'lan.example.com' }, tags: {}, metadata: {}, createdBy: ctx.principal });
    const again = await ipam.createNetwork('c', 'dmz', 'lan', { ...LAN }, ctx);
    expect(again).toMatchObject({ created: false, network: { uid: network.uid } });
    expect(await reasonOf(ipam.createNetwork('c', 'dmz', 'lan', { ...LAN, mtu: 9000 }, ctx))).toBe('NetworkExists');
    expect(await ipam.getNetwork('c', 'dmz', 'lan')).toEqual(network);
    await ipam.createNetwork('c', 'web', 'front', { cidr: '2001:db8:1::/64', gateway: 'fe80::1' }, ctx);
    expect((await ipam.listNetworks('c')).map((n) => `${n.zone}/${n.name}`)).toEqual(['dmz/lan', 'web/front']);
    expect((await ipam.listNetworks('c', 'web')).map((n) => n.cidr)).toEqual(['2001:db8:1::/64']);
    expect(await ipam.listNetworks('other')).toEqual([]);

    const changed = await ipam.updateNetwork('c', 'dmz', 'lan', { dnsServers: ['10.20.0.54'], mtu: null, vlan: null, routes: [], tags: { team: 'net' } }, ctx);
    expect(changed).toMatchObject({ dnsServers: ['10.20.0.54'], routes: [], tags: { team: 'net' }, gateway: '10.20.0.1', uid: network.uid });
    expect(changed).not.toHaveProperty('mtu');
    expect(changed).not.toHaveProperty('vlan');
    expect(await ipam.getNetwork('c', 'dmz', 'lan')).toEqual(changed);
    // Unused: cidr and gateway may change.
    expect(await ipam.updateNetwork('c', 'dmz', 'lan', { cidr: '10.21.0.0/24', gateway: '10.21.0.1', routes: null }, ctx)).toMatchObject({ cidr: '10.21.0.0/24', gateway: '10.21.0.1' });
    // A PATCH that changes nothing writes nothing.
    const same = await ipam.getNetwork('c', 'dmz', 'lan');
    expect(await ipam.updateNetwork('c', 'dmz', 'lan', { gateway: '10.21.0.1' }, ctx)).toEqual(same);

    await ipam.deleteNetwork('c', 'dmz', 'lan', ctx);
    expect(await reasonOf(ipam.getNetwork('c', 'dmz', 'lan'))).toBe('NetworkNotFound');
    expect(await reasonOf(ipam.deleteNetwork('c', 'dmz', 'lan', ctx))).toBe('NetworkNotFound');
    expect(await reasonOf(ipam.updateNetwork('c', 'dmz', 'lan', { mtu: 1500 }, ctx))).toBe('NetworkNotFound');
    // Another zone's network is not found under this zone's name.
    expect(await reasonOf(ipam.getNetwork('c', 'dmz', 'front'))).toBe('NetworkNotFound');
  });

  it('refuses bad definitions with 400 and writes nothing', async () => {
    const { ipam } = await freshIpam();
    const bad: [Partial<NetworkSpec> & Record<string, unknown>, RegExp | string][] = [
      [{ cidr: '10.20.0.1/24' }, '10.20.0.0/24'], // host bits: the canonical form is named
      [{ cidr: '10.20.0.0' }, /CIDR/],
      [{ cidr: '10.20.0.0/33' }, /prefix/],
      [{ cidr: '10.0.0.0/7' }, /limit/],
      [{ cidr: '::ffff:10.0.0.0/120' }, /IPv4/],
      [{ cidr: '10.20.0.0/24', gateway: '10.21.0.1' }, /not in 10\.20\.0\.0\/24/],
      [{ cidr: '10.20.0.0/24', gateway: '10.20.0.0' }, /network address/],
      [{ cidr: '10.20.0.0/24', gateway: '10.20.0.255' }, /broadcast/],
      [{ cidr: '10.20.0.0/24', gateway: 'fe80::1' }, /IPv6/],
      [{ cidr: '2001:db8::/64', gateway: '2001:db9::1' }, /not in/],
      [{ cidr: '2001:db8::/64', gateway: '::ffff:10.0.0.1' }, /IPv4/],
      [{ cidr: '10.20.0.0/24', routes: [{ to: '192.168.0.1/16', via: '10.20.0.2' }] }, '192.168.0.0/16'],
      [{ cidr: '10.20.0.0/24', routes: [{ to: '192.168.0.0/16', via: '10.30.0.2' }] }, /via 10\.30\.0\.2 is not in/],
      [{ cidr: '10.20.0.0/24', routes: [{ to: '2001:db8::/32', via: '10.20.0.2' }] }, /IPv6/],
      [{ cidr: '10.20.0.0/24', routes: [{ to: '192.168.0.0/16', via: '10.20.0.2', metric: 5 } as never] }, /routes\[0\]/],
      [{ cidr: '10.20.0.0/24', routes: [{ to: '192.168.0.0/16', via: '10.20.0.2' }, { to: '192.168.0.0/16', via: '10.20.0.3' }] }, /twice/],
      [{ cidr: '10.20.0.0/24', dnsServers: ['dns.example.com'] }, /not an IP address/],
      [{ cidr: '10.20.0.0/24', dnsServers: ['::ffff:10.0.0.53'] }, /IPv4/],
      [{ cidr: '10.20.0.0/24', dnsServers: Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 1}`) }, /at most 8/],
      [{ cidr: '10.20.0.0/24', ntpServers: ['not a host'] }, /ntpServers/],
      [{ cidr: '10.20.0.0/24', ntpServers: ['10.0.0.256'] }, /not an IP address/],
      [{ cidr: '10.20.0.0/24', searchDomains: ['bad domain'] }, /searchDomains/],
      [{ cidr: '10.20.0.0/24', mtu: 67 }, /mtu/],
      [{ cidr: '10.20.0.0/24', mtu: 9217 }, /mtu/],
      [{ cidr: '10.20.0.0/24', mtu: 1500.5 }, /mtu/],
      [{ cidr: '2001:db8::/64', mtu: 1279 }, /1280/],
      [{ cidr: '10.20.0.0/24', vlan: 0 }, /vlan/],
      [{ cidr: '10.20.0.0/24', vlan: 4095 }, /vlan/],
      [{ cidr: '10.20.0.0/24', dns: { domain: 'not a domain' } }, /dns\.domain/],
      [{ cidr: '10.20.0.0/24', dns: { domain: '0.20.10.in-addr.arpa' } }, /under \.arpa/],
      [{ cidr: '10.20.0.0/24', tags: { ['__proto__']: 'x' } as never }, /__proto__|tags/],
    ];
    for (const [spec, msg] of bad) {
      const e = await errorOf(ipam.createNetwork('c', 'z', 'n', spec as NetworkSpec, ctx));
      expect(e, JSON.stringify(spec)).toBeInstanceOf(IpamError);
      expect(e!.kind, JSON.stringify(spec)).toBe('InvalidInput');
      expect(e!.message, JSON.stringify(spec)).toMatch(msg);
    }
    for (const [c, z, n] of [['C', 'z', 'n'], ['c', '../z', 'n'], ['c', 'z', 'constructor!']]) expect(await reasonOf(ipam.createNetwork(c!, z!, n!, { cidr: '10.20.0.0/24' }, ctx))).toBe('InvalidInput');
    expect(await ipam.listNetworks('c')).toEqual([]);
    // IPv6: a link-local gateway and via, a default route, an NTP host name; canonical forms stored.
    const { network } = await ipam.createNetwork('c', 'z', 'v6', { cidr: '2001:DB8:1::/64', gateway: 'FE80::1', mtu: 1280, routes: [{ to: '::/0', via: 'fe80::2' }], ntpServers: ['NTP.example.com.'], dnsServers: ['2001:db8:1:0::53'] }, ctx);
    expect(network).toMatchObject({ family: 6, cidr: '2001:db8:1::/64', prefixLength: 64, gateway: 'fe80::1', routes: [{ to: '::/0', via: 'fe80::2' }], ntpServers: ['ntp.example.com'], dnsServers: ['2001:db8:1::53'] });
    // A PATCH is validated as a whole, and takes only network fields.
    expect(await reasonOf(ipam.updateNetwork('c', 'z', 'v6', { gateway: '2001:db9::1' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.updateNetwork('c', 'z', 'v6', { family: 4 } as never, ctx))).toBe('InvalidInput');
  });

  it('networks of a cloud never overlap, in any zone; another zone is not named; pools of other zones stay out', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'a', 'lan', { cidr: '10.1.0.0/24' }, ctx);
    const cross = await errorOf(ipam.createNetwork('c', 'b', 'lan', { cidr: '10.1.0.128/25' }, ctx));
    expect(cross).toMatchObject({ reason: 'NetworkOverlap' });
    expect(cross!.message).toContain('another zone');
    expect(JSON.stringify([cross!.message, cross!.details])).not.toMatch(/10\.1\.0\.0\/24|"a"|lan/);
    const same = await errorOf(ipam.createNetwork('c', 'a', 'big', { cidr: '10.1.0.0/16' }, ctx));
    expect(same).toMatchObject({ reason: 'NetworkOverlap', details: { zone: 'a', network: 'lan' } });
    expect((await ipam.createNetwork('c2', 'b', 'lan', { cidr: '10.1.0.0/24' }, ctx)).created).toBe(true); // another cloud
    expect((await ipam.createNetwork('c', 'b', 'v6', { cidr: '2001:db8::/64' }, ctx)).created).toBe(true);
    // A pool of zone b may not take addresses of zone a's network, in or out of a network.
    expect(await reasonOf(ipam.createPool('c', 'b', 'p', { ranges: ['10.1.0.200-10.1.0.210'] }, ctx))).toBe('NetworkOverlap');
    await ipam.createPool('c', 'b', 'p', { ranges: ['10.2.0.0/24'] }, ctx);
    expect(await reasonOf(ipam.updatePool('c', 'b', 'p', { addRanges: ['10.1.0.64/26'] }, ctx))).toBe('NetworkOverlap');
    // A network of zone b may not cover zone b's neighbour's pool; it may cover its own zone's pools.
    await ipam.createPool('c', 'a', 'old', { ranges: ['10.3.0.0/25'] }, ctx);
    expect(await reasonOf(ipam.createNetwork('c', 'b', 'n3', { cidr: '10.3.0.0/24' }, ctx))).toBe('NetworkOverlap');
    expect((await ipam.createNetwork('c', 'a', 'n3', { cidr: '10.3.0.0/24' }, ctx)).created).toBe(true);
    // Changing a CIDR is checked the same way.
    expect(await reasonOf(ipam.updateNetwork('c', 'b', 'lan', { mtu: 1400 }, ctx))).toBe('NetworkNotFound');
    expect(await reasonOf(ipam.updateNetwork('c', 'b', 'v6', { cidr: '10.1.0.0/25' }, ctx))).toBe('NetworkOverlap');
  });
});

describe('networks: domain ownership', () => {
  it('a domain belongs to one network or pool; parents and subdomains of another zone’s domain are refused', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'a', 'n1', { cidr: '10.1.0.0/24', dns: { domain: 'a.example.com' } }, ctx);
    const sameZone = await errorOf(ipam.createNetwork('c', 'a', 'n2', { cidr: '10.2.0.0/24', dns: { domain: 'A.example.com.' } }, ctx));
    expect(sameZone).toMatchObject({ reason: 'DomainTaken', details: { network: 'n1', zone: 'a' } });
    for (const domain of ['a.example.com', 'db.a.example.com', 'example.com']) {
      const e = await errorOf(ipam.createNetwork('c', 'b', 'm', { cidr: '10.3.0.0/24', dns: { domain } }, ctx));
      expect(e, domain).toMatchObject({ reason: 'DomainTaken' });
      expect(e!.message, domain).toContain('another zone');
      expect(JSON.stringify([e!.message, e!.details]), domain).not.toMatch(/n1|"a"|10\.1\.0/);
      // The same for a pool's own domain, at create and PATCH.
      expect(await reasonOf(ipam.createPool('c', 'b', 'p', { ranges: ['10.4.0.0/24'], dns: { domain } }, ctx)), domain).toBe('DomainTaken');
    }
    // In its own zone, a subdomain is another domain; another family may share it (dual stack).
    expect((await ipam.createNetwork('c', 'a', 'n2', { cidr: '10.2.0.0/24', dns: { domain: 'db.a.example.com' } }, ctx)).created).toBe(true);
    expect((await ipam.createNetwork('c', 'a', 'n6', { cidr: '2001:db8::/64', dns: { domain: 'a.example.com' } }, ctx)).created).toBe(true);
    expect(await reasonOf(ipam.createNetwork('c', 'a', 'n7', { cidr: '2001:db8:1::/64', dns: { domain: 'a.example.com' } }, ctx))).toBe('DomainTaken');
    // Pools: a pool's own domain is claimed the same way; another cloud is another namespace.
    await ipam.createPool('c', 'b', 'p', { ranges: ['10.4.0.0/24'], dns: { domain: 'b.example.com' } }, ctx);
    expect(await reasonOf(ipam.createPool('c', 'b', 'q', { ranges: ['10.5.0.0/24'], dns: { domain: 'b.example.com' } }, ctx))).toBe('DomainTaken');
    expect(await reasonOf(ipam.updatePool('c', 'b', 'p', { dns: { domain: 'x.a.example.com' } }, ctx))).toBe('DomainTaken');
    expect(await reasonOf(ipam.createNetwork('c', 'a', 'n8', { cidr: '10.8.0.0/24', dns: { domain: 'b.example.com' } }, ctx))).toBe('DomainTaken');
    expect(await reasonOf(ipam.updateNetwork('c', 'a', 'n2', { dns: { domain: 'www.b.example.com' } }, ctx))).toBe('DomainTaken');
    expect((await ipam.createNetwork('c2', 'b', 'n1', { cidr: '10.1.0.0/24', dns: { domain: 'a.example.com' } }, ctx)).created).toBe(true);
    // Giving a domain up frees it: the pool drops it, a network of zone a takes it.
    expect(await ipam.updatePool('c', 'b', 'p', { dns: null }, ctx)).not.toHaveProperty('dns');
    expect(await ipam.updateNetwork('c', 'a', 'n2', { dns: { domain: 'b.example.com' } }, ctx)).toMatchObject({ dns: { domain: 'b.example.com' } });
    await ipam.deleteNetwork('c', 'a', 'n2', ctx);
    expect((await ipam.createPool('c', 'b', 'q', { ranges: ['10.5.0.0/24'], dns: { domain: 'b.example.com' } }, ctx)).created).toBe(true);
  });

  it('of two concurrent claims of one domain from two zones exactly one wins', async () => {
    const { ipam } = await freshIpam();
    for (let round = 0; round < 3; round++) {
      const domain = `race${round}.example.com`;
      const [x, y] = await Promise.allSettled([
        ipam.createNetwork('c', 'x', `n${round}`, { cidr: `10.${round}.1.0/24`, dns: { domain } }, ctx),
        ipam.createNetwork('c', 'y', `n${round}`, { cidr: `10.${round}.2.0/24`, dns: { domain: `www.${domain}` } }, ctx),
      ]);
      expect([x.status, y.status].sort(), `round ${round}`).toEqual(['fulfilled', 'rejected']);
      const lost = (x.status === 'rejected' ? x : y) as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ reason: 'DomainTaken' });
      const owners = (await ipam.listNetworks('c')).filter((n) => n.dns?.domain.endsWith(domain));
      expect(owners).toHaveLength(1);
    }
    // A pool and a network racing for the same name.
    const [p, n] = await Promise.allSettled([
      ipam.createPool('c', 'x', 'p', { ranges: ['10.9.0.0/24'], dns: { domain: 'pool-or-net.example.com' } }, ctx),
      ipam.createNetwork('c', 'y', 'n', { cidr: '10.9.1.0/24', dns: { domain: 'pool-or-net.example.com' } }, ctx),
    ]);
    expect([p.status, n.status].sort()).toEqual(['fulfilled', 'rejected']);
  });
});

describe('pools inside networks', () => {
  it('a /30 network with a gateway leaves exactly one allocatable address in a /30 pool', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'z', 'p2p', { cidr: '10.9.0.0/30', gateway: '10.9.0.1' }, ctx);
    const { pool } = await ipam.createPool('c', 'z', 'tiny', { ranges: ['10.9.0.0/30'], network: 'p2p' }, ctx);
    expect(pool).toMatchObject({ network: 'p2p', size: '1', free: '1', reserved: ['10.9.0.0', '10.9.0.1', '10.9.0.3'] });
    const a = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'tiny', holder: { kind: 'vm', id: 'only' } }, ctx);
    expect(a.allocation).toMatchObject({ address: '10.9.0.2', network: { name: 'p2p', cidr: '10.9.0.0/30', prefixLength: 30, gateway: '10.9.0.1' } });
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'tiny', holder: { kind: 'vm', id: 'second' } }, ctx))).toBe('PoolExhausted');
    for (const address of ['10.9.0.0', '10.9.0.1', '10.9.0.3']) {
      const e = await errorOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'tiny', holder: { kind: 'vm', id: `want-${address}` }, address }, ctx));
      expect(e, address).toMatchObject({ reason: 'InvalidInput' });
      expect(e!.message, address).toContain('reserved');
    }
    // Without a network a /30 pool hands out all four, as before networks existed.
    await ipam.createPool('c', 'z', 'plain', { ranges: ['10.8.0.0/30'] }, ctx);
    const got = await Promise.all([1, 2, 3, 4].map((i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'plain', holder: { kind: 'vm', id: `p${i}` } }, ctx)));
    expect(got.map((r) => r.allocation.address).sort()).toEqual(['10.8.0.0', '10.8.0.1', '10.8.0.2', '10.8.0.3']);
    expect(got.every((r) => r.allocation.network === undefined)).toBe(true);
  });

  it('IPv6: the subnet-router anycast address and the in-network gateway are reserved; a link-local gateway reserves nothing', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'z', 'v6', { cidr: '2001:db8:5::/126', gateway: '2001:db8:5::1' }, ctx);
    expect((await ipam.createPool('c', 'z', 'p', { ranges: ['2001:db8:5::/126'], network: 'v6' }, ctx)).pool).toMatchObject({ size: '2', reserved: ['2001:db8:5::', '2001:db8:5::1'] });
    await ipam.createNetwork('c', 'z', 'll', { cidr: '2001:db8:6::/126', gateway: 'fe80::1' }, ctx);
    expect((await ipam.createPool('c', 'z', 'q', { ranges: ['2001:db8:6::/126'], network: 'll' }, ctx)).pool).toMatchObject({ size: '3', reserved: ['2001:db8:6::'] });
  });

  it('a pool names a network of its own zone, of its family, with its ranges inside; no domain of its own', async () => {
    const { ipam } = await freshIpam();
    await ipam.createNetwork('c', 'a', 'lan', { cidr: '10.20.0.0/24', gateway: '10.20.0.1', dns: { domain: 'a.example.com' } }, ctx);
    await ipam.createNetwork('c', 'b', 'blan', { cidr: '10.30.0.0/24' }, ctx);
    const missing = await errorOf(ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'], network: 'nope' }, ctx));
    const foreign = await errorOf(ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'], network: 'blan' }, ctx));
    expect(missing).toMatchObject({ reason: 'InvalidInput' });
    // Another zone's network answers exactly like a missing one.
    expect(foreign!.message.replace('blan', 'X')).toBe(missing!.message.replace('nope', 'X'));
    expect(await reasonOf(ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/26', '10.21.0.0/30'], network: 'lan' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.createPool('c', 'a', 'p', { ranges: ['2001:db8::/120'], network: 'lan' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'], network: 'lan', dns: { domain: 'own.example.com' } }, ctx))).toBe('InvalidInput');
    const { pool } = await ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'], network: 'lan' }, ctx);
    expect(pool).toMatchObject({ network: 'lan', size: '126', reserved: ['10.20.0.0', '10.20.0.1', '10.20.0.255'] });
    expect((await ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'], network: 'lan' }, ctx)).created).toBe(false);
    expect(await reasonOf(ipam.createPool('c', 'a', 'p', { ranges: ['10.20.0.0/25'] }, ctx))).toBe('PoolExists');
    expect(await reasonOf(ipam.updatePool('c', 'a', 'p', { dns: { domain: 'own.example.com' } }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.updatePool('c', 'a', 'p', { addRanges: ['10.20.1.0/25'] }, ctx))).toBe('InvalidInput');
    expect(await ipam.updatePool('c', 'a', 'p', { addRanges: ['10.20.0.128/25'] }, ctx)).toMatchObject({ size: '253', ranges: ['10.20.0.0/25', '10.20.0.128/25'] });
    // While the pool uses it: no delete, no new cidr or gateway; other fields change.
    expect(await reasonOf(ipam.deleteNetwork('c', 'a', 'lan', ctx))).toBe('NetworkInUse');
    expect(await reasonOf(ipam.updateNetwork('c', 'a', 'lan', { gateway: '10.20.0.254' }, ctx))).toBe('NetworkInUse');
    expect(await reasonOf(ipam.updateNetwork('c', 'a', 'lan', { gateway: null }, ctx))).toBe('NetworkInUse');
    expect(await reasonOf(ipam.updateNetwork('c', 'a', 'lan', { cidr: '10.20.0.0/23' }, ctx))).toBe('NetworkInUse');
    expect(await ipam.updateNetwork('c', 'a', 'lan', { dnsServers: ['10.20.0.53'] }, ctx)).toMatchObject({ dnsServers: ['10.20.0.53'] });
    // Out of the network: the reserved addresses are the pool's again; then the network may go.
    expect(await ipam.updatePool('c', 'a', 'p', { network: null }, ctx)).toMatchObject({ size: '256' });
    const out = await ipam.getPool('c', 'a', 'p');
    expect(out).not.toHaveProperty('network');
    expect(out).not.toHaveProperty('reserved');
    await ipam.deleteNetwork('c', 'a', 'lan', ctx);
  });

  it('moves an existing pool into a network: reserved addresses must be free (409 RangeInUse), then its allocations carry the network', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'old', { ranges: ['10.20.0.0/24'], dns: { domain: 'old.example.com' } }, ctx);
    const gw = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'old', holder: { kind: 'vip', id: 'router' }, address: '10.20.0.1' }, ctx);
    const vm = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'old', holder: { kind: 'vm', id: 'vm-1' }, address: '10.20.0.10' }, ctx);
    expect(vm.allocation.network).toBeUndefined();
    await ipam.createNetwork('c', 'z', 'lan', LAN, ctx);
    // The pool has a domain of its own: it must give it up in the same PATCH.
    const keeps = await errorOf(ipam.updatePool('c', 'z', 'old', { network: 'lan' }, ctx));
    expect(keeps).toMatchObject({ reason: 'InvalidInput' });
    expect(keeps!.message).toContain('"dns": null');
    const inUse = await errorOf(ipam.updatePool('c', 'z', 'old', { network: 'lan', dns: null }, ctx));
    expect(inUse).toMatchObject({ reason: 'RangeInUse', details: { address: '10.20.0.1' } });
    expect(inUse!.message).toContain('network lan');
    expect(await ipam.getPool('c', 'z', 'old')).toMatchObject({ size: '256', dns: { domain: 'old.example.com' } });
    await ipam.release('c', gw.allocation.address, { kind: 'vip', id: 'router' }, ctx);
    const moved = await ipam.updatePool('c', 'z', 'old', { network: 'lan', dns: null }, ctx);
    expect(moved).toMatchObject({ network: 'lan', size: '253', allocated: '1', free: '252' });
    expect(moved).not.toHaveProperty('dns');
    expect((await ipam.lookup('c', '10.20.0.10')).network).toEqual(NIC);
    // The gateway cannot be had again; everything else can.
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'z', pool: 'old', holder: { kind: 'vip', id: 'router' }, address: '10.20.0.1' }, ctx))).toBe('InvalidInput');
    // Its old domain is free for others now.
    expect((await ipam.createPool('c', 'other', 'p', { ranges: ['10.40.0.0/24'], dns: { domain: 'old.example.com' } }, ctx)).created).toBe(true);
  });
});

describe('every allocation answer carries its network', () => {
  it('allocate, repeat, group commit, lookup, held, by holder, listing, iteration, update, release and environments', async () => {
    const { ipam, store } = await freshIpam({ groupCommit: 1 });
    await ipam.createNetwork('c', 'z', 'lan', LAN, ctx);
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.20.0.0/24'], network: 'lan' }, ctx);
    await ipam.createPool('c', 'z', 'plain', { ranges: ['10.30.0.0/24'] }, ctx);
    const first = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'vm-1' }, name: 'eth0' }, ctx);
    expect(first).toMatchObject({ created: true, allocation: { network: NIC } });
    const repeat = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'vm-1' }, name: 'eth0' }, ctx);
    expect(repeat).toMatchObject({ created: false, allocation: { address: first.allocation.address, network: NIC } });
    // 30 at once through one engine with one group-commit slot: most of them go in groups.
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `g-${i}` } }, ctx)));
    expect(many.every((r) => r.created && JSON.stringify(r.allocation.network) === JSON.stringify(NIC))).toBe(true);
    expect(new Set(many.map((r) => r.allocation.address)).size).toBe(30);
    expect(many.map((r) => r.allocation.address)).not.toContain('10.20.0.1');
    const plain = await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'plain', holder: { kind: 'vm', id: 'vm-1' }, name: 'eth1' }, ctx);
    expect(plain.allocation).not.toHaveProperty('network');

    const addr = first.allocation.address;
    expect((await ipam.lookup('c', addr)).network).toEqual(NIC);
    expect((await ipam.lookup('c', addr, 'z')).network).toEqual(NIC);
    expect((await ipam.held('c', 'z', 'p', { kind: 'vm', id: 'vm-1' }, 'eth0'))?.network).toEqual(NIC);
    const byHolder = await ipam.byHolder('c', { kind: 'vm', id: 'vm-1' });
    expect(byHolder.map((a) => [a.name, a.network?.name ?? null]).sort()).toEqual([['eth0', 'lan'], ['eth1', null]]);
    const page = await ipam.listAllocations('c', 'z', 'p', { limit: 5 });
    expect(page.items).toHaveLength(5);
    expect(page.items.every((a) => a.network?.gateway === '10.20.0.1')).toBe(true);
    const iterated = [];
    for await (const a of ipam.iterateAllocations('c')) iterated.push(a);
    expect(iterated).toHaveLength(32);
    expect(iterated.filter((a) => a.network?.name === 'lan')).toHaveLength(31);
    expect((await ipam.updateAllocation('c', addr, { hostname: 'web-1' }, ctx)).network).toEqual(NIC);

    // A network change shows in the next answers (this engine forgot its snapshot; others within the pool cache time).
    await ipam.updateNetwork('c', 'z', 'lan', { dnsServers: ['10.20.0.54'] }, ctx);
    expect((await ipam.lookup('c', addr)).network?.dnsServers).toEqual(['10.20.0.54']);

    // Environments: every slot in a network names it; the release answers carry it too.
    const envs = new Environments(ipam, store);
    const applied = await envs.apply('c', 'stack', { slots: { web: { zone: 'z', pool: 'p', vm: 'e-1', count: 2 }, db: { zone: 'z', pool: 'plain', vm: 'e-2' } } }, ctx);
    expect(applied.view.slots.web).toMatchObject({ addresses: expect.any(Array), network: { name: 'lan', cidr: '10.20.0.0/24', gateway: '10.20.0.1' } });
    expect(applied.view.slots.db).not.toHaveProperty('network');
    expect((await envs.get('c', 'stack')).slots.web!.network?.name).toBe('lan');
    const released = await envs.release('c', 'stack', ctx);
    expect(released.filter((a) => (a as { network?: unknown }).network)).toHaveLength(2);

    const gone = await ipam.releaseHolder('c', { kind: 'vm', id: 'vm-1' }, ctx);
    expect(gone.find((a) => a.name === 'eth0')?.network?.name).toBe('lan');
    expect(await ipam.release('c', many[0]!.allocation.address, undefined, ctx)).toMatchObject({ network: { name: 'lan' } });
  });

  it('another engine sees a pool moved into a network once its cache expires', async () => {
    const { ipam, store } = await freshIpam();
    let now = Date.now();
    const { Ipam } = await import('../lib/engine/ipam.js');
    const other = new Ipam(store, { now: () => now, poolCacheMs: 5000 });
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.20.0.0/24'] }, ctx);
    const a = await other.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'x' }, address: '10.20.0.10' }, ctx);
    expect(a.allocation.network).toBeUndefined();
    await ipam.createNetwork('c', 'z', 'lan', LAN, ctx);
    await ipam.updatePool('c', 'z', 'p', { network: 'lan' }, ctx);
    now += 6000;
    expect((await other.lookup('c', '10.20.0.10')).network).toEqual(NIC);
  });
});

describe('network security events', () => {
  const image = (n: Record<string, unknown>) => marshall(n, { removeUndefinedValues: true, convertClassInstanceToMap: true }) as never;
  const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', o?: Record<string, unknown>, n?: Record<string, unknown>): DynamoDBRecord => ({
    eventID: `ev-${eventName}`,
    eventName,
    dynamodb: { Keys: image({ pk: (n ?? o)!.pk, sk: (n ?? o)!.sk }), ...(o ? { OldImage: image(o) } : {}), ...(n ? { NewImage: image(n) } : {}), SequenceNumber: '1', StreamViewType: 'NEW_AND_OLD_IMAGES' },
  });

  it('create, change and delete of a network item are network.* events naming the caller', async () => {
    const { ipam } = await freshIpam();
    const { network } = await ipam.createNetwork('c', 'z', 'lan', { ...LAN, tags: { constructor: 'x' } }, ctx);
    const item = NetworkEntity.toItem(network);
    const [created] = toSecurityEvents(record('INSERT', undefined, item));
    expect(SecurityEventSchema.parse(JSON.parse(JSON.stringify(created)))).toEqual(created);
    expect(created).toMatchObject({ eventType: 'network.created', principal: ctx.principal, requestId: 'req-1', cloud: 'c', zone: 'z', network: 'lan', networkUid: network.uid, cidr: '10.20.0.0/24', gateway: '10.20.0.1', domain: 'lan.example.com', vlan: 120, routes: LAN.routes });
    expect(created).not.toHaveProperty('pool');
    const changed = await ipam.updateNetwork('c', 'z', 'lan', { gateway: '10.20.0.254' }, { principal: 'bob', requestId: 'req-2' });
    const [ev] = toSecurityEvents(record('MODIFY', item, NetworkEntity.toItem(changed)));
    expect(ev).toMatchObject({ eventType: 'network.changed', principal: 'bob', requestId: 'req-2', changes: { gateway: { old: '10.20.0.1', new: '10.20.0.254' } } });
    const stamped = { ...NetworkEntity.toItem(changed), deletedBy: 'carol', deletedAt: changed.updatedAt, deleteRequestId: 'req-3' };
    expect(toSecurityEvents(record('MODIFY', NetworkEntity.toItem(changed), stamped))).toEqual([]);
    expect(toSecurityEvents(record('REMOVE', stamped))).toMatchObject([{ eventType: 'network.deleted', principal: 'carol', requestId: 'req-3', network: 'lan' }]);
    // Recognised by its keys alone, too.
    expect(toSecurityEvents(record('REMOVE', { pk: item.pk, sk: item.sk, cidr: '10.20.0.0/24', name: 'lan' }))).toMatchObject([{ eventType: 'network.deleted', network: 'lan' }]);
  });
});

describe('networks over signed HTTP (answers checked against the OpenAPI document)', () => {
  it('PUT 201/200/409, GET, list, PATCH, DELETE 204; pools name them; allocations, lookups and environments carry them; the security log has them', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-net-'));
    const svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_QUIET: '1' }, { dataDir });
    try {
      const c = svc.client();
      const statusOf = (p: Promise<unknown>) => p.then(() => 200, (e) => (e instanceof ApiError ? `${e.status} ${e.reason}` : Promise.reject(e)));
      const put = await c.request<any>('PUT', '/v1/clouds/h/zones/dmz/networks/lan', { body: LAN });
      expect(put.status).toBe(201);
      expect(put.body).toMatchObject({ cloud: 'h', zone: 'dmz', ...NIC, dns: { domain: 'lan.example.com' }, createdBy: ADMIN.principal });
      expect(put.body).not.toHaveProperty('uid');
      expect((await c.request('PUT', '/v1/clouds/h/zones/dmz/networks/lan', { body: LAN })).status).toBe(200);
      expect(await statusOf(c.createNetwork('h', 'dmz', 'lan', { ...LAN, vlan: 7 }))).toBe('409 NetworkExists');
      expect(await statusOf(c.createNetwork('h', 'web', 'lan2', { cidr: '10.20.0.0/25' }))).toBe('409 NetworkOverlap');
      expect(await statusOf(c.createNetwork('h', 'web', 'lan2', { cidr: '10.21.0.0/24', dns: { domain: 'x.lan.example.com' } }))).toBe('409 DomainTaken');
      for (const body of [{ cidr: '10.22.0.1/24' }, { cidr: '10.22.0.0/24', mtu: '1500' }, { cidr: '10.22.0.0/24', vlan: 5000 }, { cidr: '10.22.0.0/24', routes: [{ to: '0.0.0.0/0' }] }, { cidr: '10.22.0.0/24', extra: 1 }, { gateway: '10.22.0.1' }]) {
        expect(await statusOf(c.request('PUT', '/v1/clouds/h/zones/web/networks/bad', { body })), JSON.stringify(body)).toMatch(/^400 /);
      }
      expect(await statusOf(c.updateNetwork('h', 'dmz', 'lan', {}))).toMatch(/^400 /);
      expect(await c.getNetwork('h', 'dmz', 'lan')).toEqual(put.body);
      await c.createNetwork('h', 'web', 'v6', { cidr: '2001:db8:7::/64', gateway: 'fe80::1', mtu: 9000 });
      expect((await c.listNetworks('h')).map((n) => n.name)).toEqual(['lan', 'v6']);
      expect((await c.listNetworks('h', 'web')).map((n) => n.cidr)).toEqual(['2001:db8:7::/64']);

      // A pool inside the network; its allocations carry the network in every answer.
      const pool = await c.createPool('h', 'dmz', 'web', { ranges: ['10.20.0.0/28'], network: 'lan' });
      expect(pool).toMatchObject({ created: true, pool: { network: 'lan', size: '14', reserved: ['10.20.0.0', '10.20.0.1', '10.20.0.255'] } });
      const a = await c.allocate('h', 'dmz', 'web', { vm: 'vm-1', name: 'eth0' });
      expect(a.allocation.network).toEqual(NIC);
      expect((await c.allocate('h', 'dmz', 'web', { vm: 'vm-1', name: 'eth0' })).allocation.network).toEqual(NIC);
      expect((await c.lookup('h', a.allocation.address)).network).toEqual(NIC);
      expect((await c.lookup('h', a.allocation.address, 'dmz')).network).toEqual(NIC);
      expect((await c.byHolder('h', 'vm', 'vm-1', 'dmz'))[0]!.network).toEqual(NIC);
      expect((await c.listAllocations('h', 'dmz', 'web')).items[0]!.network).toEqual(NIC);
      expect((await c.updateAllocation('h', a.allocation.address, { hostname: 'web-1' })).network).toEqual(NIC);
      const env = await c.request<any>('PUT', '/v1/clouds/h/zones/dmz/environments/stack', { body: { slots: { web: { pool: 'web', vm: 'e-1' } } } });
      expect(env.body.slots.web.network).toEqual(NIC);
      expect(await statusOf(c.allocate('h', 'dmz', 'web', { vm: 'gw', address: '10.20.0.1' }))).toBe('400 InvalidInput');
      expect(await statusOf(c.deleteNetwork('h', 'dmz', 'lan'))).toBe('409 NetworkInUse');
      expect(await statusOf(c.updateNetwork('h', 'dmz', 'lan', { gateway: '10.20.0.2' }))).toBe('409 NetworkInUse');
      const patched = await c.updateNetwork('h', 'dmz', 'lan', { dnsServers: ['10.20.0.54'], mtu: null });
      expect(patched).toMatchObject({ dnsServers: ['10.20.0.54'] });
      expect(patched).not.toHaveProperty('mtu');

      // Out of the network and the network deleted: answers are plain again.
      await c.request('DELETE', '/v1/clouds/h/zones/dmz/environments/stack');
      await c.releaseHolder('h', 'vm', 'vm-1');
      expect(await c.updatePool('h', 'dmz', 'web', { network: null })).toMatchObject({ size: '16' });
      expect((await c.request('DELETE', '/v1/clouds/h/zones/dmz/networks/lan')).status).toBe(204);
      expect(await statusOf(c.getNetwork('h', 'dmz', 'lan'))).toBe('404 NetworkNotFound');
      expect((await c.allocate('h', 'dmz', 'web', { vm: 'vm-2' })).allocation).not.toHaveProperty('network');

      // The security log: created, changed, deleted, by the caller.
      const file = path.join(dataDir, 'security-events.jsonl');
      const deadline = Date.now() + 20_000;
      let events: any[] = [];
      while (Date.now() < deadline) {
        events = ((await readSecurityEventsFile(file).catch(() => [])) as any[]).filter((e) => e.eventType.startsWith('network.'));
        if (events.some((e) => e.eventType === 'network.deleted')) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(events.map((e) => `${e.eventType} ${e.zone}/${e.network}`)).toEqual(['network.created dmz/lan', 'network.created web/v6', 'network.changed dmz/lan', 'network.deleted dmz/lan']);
      expect(events.every((e) => e.principal === ADMIN.principal)).toBe(true);
      expect(events[2].changes).toEqual({ dnsServers: { old: ['10.20.0.53', '10.0.0.53'], new: ['10.20.0.54'], added: ['10.20.0.54'], removed: ['10.20.0.53', '10.0.0.53'] }, mtu: { old: 1500, new: null } });
    } finally {
      await svc.stop();
    }
  }, 120_000);
});
