/**
 * DNS zone files, checked by the real BIND tools: every zone passes named-checkzone, and a real named
 * serving them answers every forward (A/AAAA) and reverse (PTR, through RFC 2317 CNAMEs too) query.
 * SOA, NS and hostmaster come from the cloud's DNS settings (or the deployment's IPAM_DNS_* defaults),
 * never from a domain; without either the zone routes answer 409. The five DNS attacks of issue 11 are
 * tried on crafted data (the builder must be safe whatever is stored) and through the engine.
 * The routes are exercised in process (Router) and over signed HTTP through the local service.
 * The BIND tools are required: a missing tool fails the tests (CI installs them: .ci/apt-packages).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../lib/api/http.js';
import { integrationRoutes } from '../lib/api/routes-integrations.js';
import { Router } from '../lib/api/routes.js';
import { allowPatterns, networkAdmin, zonePipeline } from '../lib/auth/roles.js';
import type { DnsSettings } from '../lib/core/dns.js';
import { IpamError } from '../lib/core/errors.js';
import { parseAddress } from '../lib/core/ip.js';
import type { Allocation, Pool } from '../lib/core/model.js';
import type { Network } from '../lib/core/network.js';
import { Environments } from '../lib/engine/environments.js';
import type { Ipam } from '../lib/engine/ipam.js';
import { parseReverseZone, reverseName } from '../lib/integrations/dns/names.js';
import { CloudDns, collect, dnsConfigFromEnv, listZones, recordLine, resolveDns, zoneFile } from '../lib/integrations/dns/zones.js';
import { ADMIN, sendSigned, signRequest, startService, type RunningService } from './service.js';
import { tool } from './tools.js';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from '../lib/dynamo/keys.js';
import { ctx, ddbEndpoint, freshIpam, reasonOf } from './support.js';

const exec = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** named-checkzone's verdict on a zone text: exit code and output. */
async function checkzone(zone: string, text: string): Promise<{ code: number; out: string }> {
  const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'ipam-checkzone-')), 'zone');
  writeFileSync(f, text);
  const r = await exec(tool('named-checkzone', 'bind9-utils'), ['-k', 'fail', '-n', 'fail', '-i', 'local', zone, f]).catch((e) => e);
  return { code: r.code ?? 0, out: `${r.stdout}${r.stderr}` };
}

const CLOUD = 'c1';
const V6_NET = 'fd00:1:2:3::/120';
const SETTINGS = { primaryNs: 'NS1.example.com.', primaryNsAddresses: ['192.0.2.53', '2001:db8::53'], secondaryNs: ['ns2.example.net'], hostmaster: 'dns.admin@example.com' };

interface Expect {
  fqdn: string;
  address: string;
}

let ipam: Ipam;
let environments: Environments;
/** Every allocation that must resolve: name -> address (A/AAAA) and address -> name (PTR). */
const named: Expect[] = [];

async function alloc(zone: string, pool: string, vm: string, address: string, hostname?: string, extra: { mac?: string; prefixLength?: number } = {}) {
  const r = await ipam.allocate({ cloud: CLOUD, zone, pool, holder: { kind: 'vm', id: vm }, address, ...(hostname ? { hostname } : {}), ...extra }, ctx);
  return r.allocation;
}

let table: { doc: DynamoDBDocumentClient; name: string };
/**
 * An allocation whose hostname is outside its pool's domain. The engine refuses such a hostname now
 * (400 HostnameOutsideDomain); records written before that rule may still hold one, and the zones must
 * stay safe whatever is stored: it is written into the record directly, as an earlier version did.
 */
async function allocOutside(zone: string, pool: string, vm: string, address: string, hostname: string) {
  await alloc(zone, pool, vm, address);
  const a = parseAddress(address);
  await table.doc.send(new UpdateCommand({ TableName: table.name, Key: keys.allocation(CLOUD, a.family, a.value), UpdateExpression: 'SET hostname = :h', ExpressionAttributeValues: { ':h': hostname } }));
}

beforeAll(async () => {
  const fresh = await freshIpam();
  const store = fresh.store;
  ipam = fresh.ipam;
  table = { doc: fresh.doc, name: fresh.table };
  environments = new Environments(ipam, store);
  await ipam.createPool(CLOUD, 'z1', 'web', { ranges: ['10.20.0.0/23'], dns: { domain: 'Prod.Example.com' } }, ctx);
  await ipam.createPool(CLOUD, 'z1', 'db', { ranges: ['10.30.0.0/24'], dns: { domain: 'example.com' } }, ctx);
  await ipam.createPool(CLOUD, 'z2', 'v6', { ranges: [V6_NET], dns: { domain: 'v6.example.net' } }, ctx);
  await ipam.createPool(CLOUD, 'z2', 'nodns', { ranges: ['10.40.0.0/24'] }, ctx);
  await ipam.setDnsSettings(CLOUD, SETTINGS, ctx);

  await alloc('z1', 'web', 'vm-web1', '10.20.0.10', 'web1', { mac: '52:54:00:00:00:01' });
  await alloc('z1', 'web', 'vm-web2', '10.20.1.20', 'WEB2');
  await alloc('z1', 'web', 'vm-api', '10.20.0.11', 'api.prod.example.com');
  await allocOutside('z1', 'web', 'vm-mail', '10.20.0.12', 'mail.example.com.'); // outside its own domain: nothing
  await allocOutside('z1', 'db', 'vm-x', '10.30.0.5', 'x.other.org'); // outside its own domain: nothing
  await alloc('z1', 'db', 'vm-db1', '10.30.0.6', 'db1');
  await alloc('z1', 'db', 'vm-mixed', '10.30.0.8', 'Mixed.Example.COM.');
  await allocOutside('z1', 'db', 'vm-deep', '10.30.0.9', 'www.prod.example.com'); // inside the deeper prod.example.com: nothing
  await alloc('z1', 'db', 'vm-anon', '10.30.0.7');
  await alloc('z1', 'db', 'vm-block', '10.30.0.32', 'blk', { prefixLength: 28 });
  await alloc('z1', 'db', 'vm-ns1', '10.30.0.53', 'ns1'); // the primary name server's name: never shadows its address
  await alloc('z2', 'v6', 'vm-h6', 'fd00:1:2:3::5', 'h6');
  await allocOutside('z2', 'v6', 'vm-api6', 'fd00:1:2:3::6', 'api.prod.example.com'); // another pool's domain: nothing
  await alloc('z2', 'nodns', 'vm-lonely', '10.40.0.5', 'lonely');
  await allocOutside('z2', 'nodns', 'vm-svc', '10.40.0.6', 'svc.v6.example.net'); // a pool without a domain: nothing
  named.push(
    { fqdn: 'web1.prod.example.com', address: '10.20.0.10' },
    { fqdn: 'web2.prod.example.com', address: '10.20.1.20' },
    { fqdn: 'api.prod.example.com', address: '10.20.0.11' },
    { fqdn: 'db1.example.com', address: '10.30.0.6' },
    { fqdn: 'mixed.example.com', address: '10.30.0.8' },
    { fqdn: 'h6.v6.example.net', address: 'fd00:1:2:3::5' },
  );
});

const V6_ZONE = '3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa';

describe('zone model (pools outside networks)', () => {
  it('lists forward zones (every owned pool domain) and reverse zones (/24, /64) with record counts', async () => {
    const zones = await listZones(ipam, CLOUD);
    expect(zones).toEqual([
      { name: 'example.com', kind: 'forward', records: 2 }, // db1, mixed
      { name: 'prod.example.com', kind: 'forward', records: 3 }, // web1, web2, api
      { name: 'v6.example.net', kind: 'forward', records: 1 }, // h6
      { name: '0.20.10.in-addr.arpa', kind: 'reverse', records: 2 },
      { name: '1.20.10.in-addr.arpa', kind: 'reverse', records: 1 },
      { name: '0.30.10.in-addr.arpa', kind: 'reverse', records: 2 },
      { name: V6_ZONE, kind: 'reverse', records: 1 },
    ]);
    expect(await listZones(ipam, CLOUD, { zone: 'z2' })).toEqual([
      { name: 'v6.example.net', kind: 'forward', records: 1 },
      { name: V6_ZONE, kind: 'reverse', records: 1 },
    ]);
    expect(await listZones(ipam, CLOUD, { zone: 'nobody' })).toEqual([]);
  });

  it('names reverse zones at octet and nibble boundaries, RFC 2317 zones with a hyphen', () => {
    expect(reverseName(4, parseAddress('10.20.0.10').value)).toEqual({ zone: '0.20.10.in-addr.arpa', owner: '10' });
    expect(reverseName(6, parseAddress('fd00:1:2:3::5').value)).toEqual({ zone: V6_ZONE, owner: '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0' });
    expect(parseReverseZone('0.20.10.in-addr.arpa')).toEqual({ family: 4, start: parseAddress('10.20.0.0').value, end: parseAddress('10.20.0.255').value });
    expect(parseReverseZone('20.10.in-addr.arpa')).toEqual({ family: 4, start: parseAddress('10.20.0.0').value, end: parseAddress('10.20.255.255').value });
    expect(parseReverseZone('64-127.0.2.10.in-addr.arpa')).toEqual({ family: 4, start: parseAddress('10.2.0.64').value, end: parseAddress('10.2.0.127').value });
    for (const bad of ['00.20.10.in-addr.arpa', '256.1.10.in-addr.arpa', '64-128.0.2.10.in-addr.arpa', '3-9.0.2.10.in-addr.arpa', '0-255.0.2.10.in-addr.arpa', '1-2.2.10.in-addr.arpa', 'g.ip6.arpa', 'example.com']) {
      expect(parseReverseZone(bad), bad).toBeUndefined();
    }
  });

  it('writes $ORIGIN, $TTL, SOA and NS from the settings, the in-zone name server’s configured addresses, and only the zone’s own records', async () => {
    const text = await collect(zoneFile(ipam, CLOUD, 'PROD.example.com.'));
    const serial = await ipam.changeClock(CLOUD);
    expect(text).toContain('$ORIGIN prod.example.com.\n$TTL 300\n');
    expect(text).toContain(`@\tIN\tSOA\tns1.example.com. dns\\.admin.example.com. ${serial} 3600 600 1209600 300\n`);
    expect(text).toContain('@\tIN\tNS\tns1.example.com.\n@\tIN\tNS\tns2.example.net.\n');
    expect(text).toContain('web2\tIN\tA\t10.20.1.20\n');
    expect(text).not.toContain('AAAA'); // api.prod.example.com of pool v6 is not in its own domain
    expect(text).not.toContain('mail');
    expect(text).not.toContain('www'); // www.prod.example.com of pool db is not prod.example.com's
    const apex = await collect(zoneFile(ipam, CLOUD, 'example.com'));
    expect(apex).toContain('ns1\tIN\tA\t192.0.2.53\nns1\tIN\tAAAA\t2001:db8::53\n');
    expect(apex).not.toContain('10.30.0.53'); // the allocation named ns1 does not shadow the name server
    expect(apex).not.toMatch(/^(mail|x|www\.prod)\t/m);
    const rev = await collect(zoneFile(ipam, CLOUD, '0.30.10.in-addr.arpa'));
    expect(rev).toContain('6\tIN\tPTR\tdb1.example.com.\n');
    expect(rev).not.toMatch(/^(5|7|9|32|53)\t/m);
    for (const z of await listZones(ipam, CLOUD)) {
      const r = await checkzone(z.name, await collect(zoneFile(ipam, CLOUD, z.name)));
      expect(r.code, `${z.name}: ${r.out}`).toBe(0);
    }
  });

  it('answers ZoneNotFound for zones the cloud (or the security zone) does not have', async () => {
    for (const [z, zone] of [['nope.example.com'], ['9.9.10.in-addr.arpa'], ['0.40.10.in-addr.arpa'], ['other.org'], ['prod.example.com', 'z2'], [V6_ZONE, 'z1']] as [string, string?][]) {
      const e = await collect(zoneFile(ipam, CLOUD, z, zone ? { zone } : {})).catch((x) => x);
      expect(e, z).toBeInstanceOf(IpamError);
      expect(e.reason, z).toBe('ZoneNotFound');
    }
    expect(await collect(zoneFile(ipam, CLOUD, V6_ZONE, { zone: 'z2' }))).toContain('PTR\th6.v6.example.net.');
  });
});

describe('DNS settings', () => {
  it('without settings (the cloud’s or the deployment’s) there are no zones: 409 DnsNotConfigured, never a name from a domain', async () => {
    await ipam.createPool('c0', 'z', 'p', { ranges: ['10.90.0.0/24'], dns: { domain: 'aaa.example.com' } }, ctx);
    await ipam.allocate({ cloud: 'c0', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'a' }, hostname: 'a' }, ctx);
    for (const p of [listZones(ipam, 'c0'), collect(zoneFile(ipam, 'c0', 'aaa.example.com'))]) {
      const e = await p.catch((x) => x);
      expect(e).toMatchObject({ reason: 'DnsNotConfigured', kind: 'Conflict' });
      expect(e.message).toContain('PUT /v1/clouds/c0/dns');
      expect(e.message).toContain('ipam:dnsPrimaryNs');
    }
    expect(await ipam.getDnsSettings('c0')).toBeUndefined();
    // The deployment's defaults serve such a cloud.
    const text = await collect(zoneFile(ipam, 'c0', 'aaa.example.com', { config: { primaryNs: 'dns1.corp.example', hostmaster: 'hostmaster.corp.example', ttl: 60 } }));
    expect(text).toContain('$TTL 60\n');
    expect(text).toMatch(/\tSOA\tdns1\.corp\.example\. hostmaster\.corp\.example\. \d+ 3600 600 1209600 300\n/);
    expect(text).not.toContain('ns1.aaa');
    expect(text).not.toContain('127.0.0.1');
  });

  it('refuses bad settings with 400 and changes nothing; stores normalised ones; the change moves the serial', async () => {
    const good = { primaryNs: 'ns1.c3.example.com', hostmaster: 'hostmaster@c3.example.com' };
    const bad: unknown[] = [
      {},
      { ...good, primaryNs: 'ns1' },
      { ...good, primaryNs: '1.0.10.in-addr.arpa' },
      { ...good, hostmaster: 'nobody' },
      { ...good, hostmaster: 'a..b@example.com' },
      { ...good, primaryNsAddresses: ['127.0.0.1'] },
      { ...good, primaryNsAddresses: ['::1'] },
      { ...good, primaryNsAddresses: ['10.0.0.300'] },
      { ...good, primaryNsAddresses: ['::ffff:10.0.0.1'] },
      { ...good, secondaryNs: ['ns1.c3.example.com'] },
      { ...good, secondaryNs: [{ name: 'ns2.c3.example.com', addresses: ['0.0.0.0'] }] },
      { ...good, secondaryNs: [{ name: 'ns2.c3.example.com', evil: 1 }] },
      { ...good, ttl: -1 },
      { ...good, expire: 2 ** 31 },
      { ...good, retry: 1.5 },
    ];
    for (const b of bad) expect(await reasonOf(ipam.setDnsSettings('c3', b, ctx)), JSON.stringify(b)).toMatch(/^(InvalidInput|MappedAddress)$/);
    expect(await ipam.getDnsSettings('c3')).toBeUndefined();
    await ipam.createPool('c3', 'z', 'p', { ranges: ['10.93.0.0/24'] }, ctx);
    const clock0 = await ipam.changeClock('c3');
    await new Promise((r) => setTimeout(r, 1100)); // the change clock counts seconds
    const stored = await ipam.setDnsSettings('c3', { ...good, primaryNs: 'NS1.C3.example.com.', secondaryNs: ['ns2.example.net', { name: 'ns3.c3.example.com', addresses: ['2001:DB8::0:53'] }], hostmaster: 'Hostmaster@C3.example.com', ttl: 0 }, ctx);
    expect(stored).toMatchObject({ primaryNs: 'ns1.c3.example.com', primaryNsAddresses: [], secondaryNs: [{ name: 'ns2.example.net', addresses: [] }, { name: 'ns3.c3.example.com', addresses: ['2001:db8::53'] }], hostmaster: 'hostmaster@c3.example.com', ttl: 0, updatedBy: ctx.principal });
    expect(await ipam.getDnsSettings('c3')).toEqual(stored);
    expect(await ipam.changeClock('c3')).toBeGreaterThan(clock0);
  });

  it('precedence: the cloud’s settings as a whole, then the deployment’s; each timer from the cloud, the deployment, then the default', () => {
    const deployment = { primaryNs: 'ns1.deploy.example', primaryNsAddresses: ['192.0.2.1'], hostmaster: 'hm.deploy.example', ttl: 60, expire: 99999 };
    const cloud: DnsSettings = { primaryNs: 'ns1.cloud.example', primaryNsAddresses: [], secondaryNs: [], hostmaster: 'hm@cloud.example', refresh: 7200 };
    expect(resolveDns(cloud, deployment)).toEqual({ source: 'cloud', settings: { ...cloud, ttl: 60, refresh: 7200, retry: 600, expire: 99999, negativeTtl: 300 } });
    expect(resolveDns(undefined, deployment)).toEqual({ source: 'deployment', settings: { primaryNs: 'ns1.deploy.example', primaryNsAddresses: ['192.0.2.1'], secondaryNs: [], hostmaster: 'hm.deploy.example', ttl: 60, refresh: 3600, retry: 600, expire: 99999, negativeTtl: 300 } });
    expect(resolveDns(undefined, { ttl: 60 })).toBeUndefined();
    expect(resolveDns(undefined, {})).toBeUndefined();
  });

  it('reads the deployment defaults from IPAM_DNS_* and refuses bad ones naming the variable', () => {
    expect(dnsConfigFromEnv({})).toEqual({});
    expect(
      dnsConfigFromEnv({ IPAM_DNS_PRIMARY_NS: 'ns1.example.com', IPAM_DNS_PRIMARY_NS_ADDRESSES: '192.0.2.53, 2001:db8::53', IPAM_DNS_SECONDARY_NS: 'ns2.example.net,ns3.example.org', IPAM_DNS_HOSTMASTER: 'hostmaster@example.com', IPAM_DNS_TTL: '120', IPAM_DNS_NEGATIVE_TTL: '30', IPAM_DNS_REFRESH: '1800', IPAM_DNS_RETRY: '300', IPAM_DNS_EXPIRE: '604800' }),
    ).toEqual({ primaryNs: 'ns1.example.com', primaryNsAddresses: ['192.0.2.53', '2001:db8::53'], secondaryNs: ['ns2.example.net', 'ns3.example.org'], hostmaster: 'hostmaster@example.com', ttl: 120, negativeTtl: 30, refresh: 1800, retry: 300, expire: 604800 });
    expect(dnsConfigFromEnv({ IPAM_DNS_PRIMARY_NS: 'ns1.example.com', IPAM_DNS_HOSTMASTER: 'h.example.com', IPAM_DNS_NS_ADDRESSES: '192.0.2.9' }).primaryNsAddresses).toEqual(['192.0.2.9']);
    expect(() => dnsConfigFromEnv({ IPAM_DNS_PRIMARY_NS: 'ns1.example.com' })).toThrow(/IPAM_DNS_PRIMARY_NS and IPAM_DNS_HOSTMASTER go together/);
    expect(() => dnsConfigFromEnv({ IPAM_DNS_TTL: '-5' })).toThrow(/IPAM_DNS_TTL/);
    expect(() => dnsConfigFromEnv({ IPAM_DNS_PRIMARY_NS: 'ns1', IPAM_DNS_HOSTMASTER: 'h.example.com' })).toThrow(/IPAM_DNS_PRIMARY_NS/);
    expect(() => dnsConfigFromEnv({ IPAM_DNS_PRIMARY_NS: 'ns1.example.com', IPAM_DNS_HOSTMASTER: 'h.example.com', IPAM_DNS_PRIMARY_NS_ADDRESSES: '127.0.0.1' })).toThrow(/loopback/);
  });
});

// ---------------------------------------------------------------- crafted data through the builder

const T = '2025-01-01T00:00:00.000Z';
const X = 'x1';
function pool(zone: string, name: string, ranges: string[], extra: Partial<Pool> = {}): Pool {
  return { cloud: X, zone, name, uid: `${zone}-${name}`, family: ranges[0]!.includes(':') ? 6 : 4, ranges, exclude: [], tags: {}, metadata: {}, size: '1', epoch: 1, shards: 1, createdAt: T, createdBy: 'p', updatedAt: T, updatedBy: 'p', ...extra };
}
function network(zone: string, name: string, cidr: string, domain?: string): Network {
  return {
    cloud: X,
    zone,
    name,
    uid: `n-${zone}-${name}`,
    family: cidr.includes(':') ? 6 : 4,
    cidr,
    prefixLength: Number(cidr.split('/')[1]),
    dnsServers: [],
    searchDomains: [],
    ntpServers: [],
    routes: [],
    ...(domain ? { dns: { domain } } : {}),
    tags: {},
    metadata: {},
    createdAt: T,
    createdBy: 'p',
    updatedAt: T,
    updatedBy: 'p',
  };
}
function allocation(p: Pool, address: string, hostname?: string, prefixLength?: number): Allocation {
  const family = address.includes(':') ? 6 : 4;
  const pl = prefixLength ?? (family === 4 ? 32 : 128);
  return { cloud: X, zone: p.zone, pool: p.name, address, cidr: `${address}/${pl}`, prefixLength: pl, family, vm: `vm-${address}`, name: 'default', ...(hostname ? { hostname } : {}), tags: {}, metadata: {}, allocatedAt: T, allocatedBy: 'p', version: 1 };
}
const resolved = (s: Partial<DnsSettings> & Pick<DnsSettings, 'primaryNs' | 'hostmaster'>) => resolveDns({ primaryNsAddresses: [], secondaryNs: [], ...s })!.settings;

/** Every zone of the crafted cloud as text, the way zoneFile writes it. */
function render(dns: CloudDns, allocations: Allocation[], serial = 7): Map<string, string> {
  const bodies = new Map<string, string>(dns.forward.map((z) => [z, '']));
  for (const a of allocations) for (const r of dns.recordsOf(a)) bodies.set(r.zone, (bodies.get(r.zone) ?? '') + recordLine(r));
  return new Map([...bodies].map(([z, body]) => [z, dns.header(z, serial) + body]));
}
/** The zone holding each record of `name` (A/AAAA owners and PTR targets). */
function whereIs(zones: Map<string, string>, name: string, address: string): string[] {
  const out: string[] = [];
  for (const [z, text] of zones) {
    for (const line of text.split('\n')) {
      const [owner, , type, data] = line.split('\t');
      if (!type) continue;
      const full = owner === '@' ? z : `${owner}.${z}`;
      if ((type === 'A' || type === 'AAAA') && full === name && data === address) out.push(`${z} ${type}`);
      const range = parseReverseZone(z);
      const v = parseAddress(address).value;
      if (type === 'PTR' && data === `${name}.` && range && v >= range.start && v <= range.end) out.push(`${z} PTR`);
    }
  }
  return out;
}

/**
 * Issue 11's setting: zone `other` holds network 10.2.0.0/23 with domain other.example.com, its name server
 * ns1.other.example.com and VM db1; zone `dmz` is the attacker, with a network of its own and pools whose
 * stored data no write-time check is assumed to have refused.
 */
function victimAndAttacker(extraPools: Pool[] = [], extraAllocations: (pools: Record<string, Pool>) => Allocation[] = () => []) {
  const nets = [network('other', 'onet', '10.2.0.0/23', 'other.example.com'), network('dmz', 'dnet', '10.1.0.0/24', 'dmz.example.com')];
  const pools: Record<string, Pool> = {
    pb: pool('other', 'pb', ['10.2.0.0/24'], { network: 'onet' }),
    pa: pool('dmz', 'pa', ['10.1.0.0/24'], { network: 'dnet' }),
    aaa: pool('dmz', 'aaa', ['10.5.0.0/24'], { dns: { domain: 'aaa.example.com' } }),
    // Crafted: a dmz pool outside networks, inside the victim network's CIDR.
    sneak: pool('dmz', 'sneak', ['10.2.1.0/28'], { dns: { domain: 'sneak.example.com' } }),
  };
  for (const p of extraPools) pools[p.name] = p;
  const settings = resolved({ primaryNs: 'ns1.other.example.com', primaryNsAddresses: ['10.2.0.53'], secondaryNs: [{ name: 'ns2.example.net', addresses: [] }], hostmaster: 'hostmaster@other.example.com' });
  const dns = new CloudDns(X, Object.values(pools), { networks: nets, settings });
  const allocations = [
    allocation(pools.pb!, '10.2.0.10', 'db1'),
    allocation(pools.pb!, '10.2.0.99', 'ns1'), // the victim zone's own allocation named like its name server
    allocation(pools.pa!, '10.1.0.10', 'db1.other.example.com'), // attack 1
    allocation(pools.pa!, '10.1.0.11', 'ns1.other.example.com'), // attack 2
    allocation(pools.pa!, '10.1.0.12', 'web'),
    allocation(pools.aaa!, '10.5.0.5', 'x'), // attack 3's pool
    allocation(pools.sneak!, '10.2.1.5', 'sneaky'),
    ...extraAllocations(pools),
  ];
  return { dns, allocations, zones: render(dns, allocations), pools };
}

describe('the DNS attacks of issue 11, on crafted data', () => {
  it('1: an allocation of zone dmz named db1.other.example.com adds nothing to other.example.com (or anywhere)', async () => {
    const { zones } = victimAndAttacker();
    expect(whereIs(zones, 'db1.other.example.com', '10.2.0.10')).toEqual(['other.example.com A', '0.2.10.in-addr.arpa PTR']);
    expect(whereIs(zones, 'db1.other.example.com', '10.1.0.10')).toEqual([]);
    expect(zones.get('other.example.com')!.match(/^db1\t/gm)).toHaveLength(1);
    expect(zones.get('0.1.10.in-addr.arpa')).toContain('12\tIN\tPTR\tweb.dmz.example.com.\n');
    expect(zones.get('0.1.10.in-addr.arpa')).not.toMatch(/PTR\t.*other/); // no PTR naming the victim
    expect(zones.get('dmz.example.com')).toContain('web\tIN\tA\t10.1.0.12\n');
    for (const [z, text] of zones) expect((await checkzone(z, text)).code, `${z}\n${text}`).toBe(0);
    // A stored record that names the victim's pool but holds a dmz address gets nothing either.
    const { dns, pools } = victimAndAttacker();
    expect(dns.recordsOf({ ...allocation(pools.pa!, '10.1.0.20', 'evil'), zone: 'other', pool: 'pb' })).toEqual([]);
    expect(dns.recordsOf(allocation(pools.pb!, '10.2.0.20', 'fine'))).toHaveLength(2);
  });

  it('2: nobody replaces or shadows the name server ns1.other.example.com: its address comes from the settings only', () => {
    const { zones } = victimAndAttacker();
    const other = zones.get('other.example.com')!;
    expect(other.match(/^ns1\t.*$/gm)).toEqual(['ns1\tIN\tA\t10.2.0.53']);
    for (const text of zones.values()) {
      expect(text).not.toContain('10.1.0.11');
      expect(text).not.toContain('10.2.0.99');
    }
  });

  it('3: a dmz pool with domain aaa.example.com does not become anybody’s SOA or NS; without settings there is no zone at all', () => {
    const { zones, pools } = victimAndAttacker();
    expect([...zones.keys()][0]).toBe('aaa.example.com');
    for (const text of zones.values()) {
      expect(text).toMatch(/\tSOA\tns1\.other\.example\.com\. hostmaster\.other\.example\.com\. 7 /);
      expect(text.match(/\tNS\t.*$/gm)).toEqual(['\tNS\tns1.other.example.com.', '\tNS\tns2.example.net.']);
      expect(text).not.toContain('ns1.aaa');
      expect(text).not.toContain('127.0.0.1');
    }
    const bare = new CloudDns(X, Object.values(pools), { networks: [network('other', 'onet', '10.2.0.0/23', 'other.example.com')] });
    let err: unknown;
    try {
      bare.header('aaa.example.com', 1);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ reason: 'DnsNotConfigured' });
  });

  it('4: a dmz pool with domain db1.other.example.com moves no record of other.example.com; the clash is withheld and named', () => {
    const { dns, zones } = victimAndAttacker([pool('dmz', 'hijack', ['10.6.0.0/24'], { dns: { domain: 'db1.other.example.com' } })], (p) => [allocation(p.hijack!, '10.6.0.1', 'db1.other.example.com'), allocation(p.hijack!, '10.6.0.2', 'www')]);
    expect(zones.has('db1.other.example.com')).toBe(false);
    for (const text of zones.values()) expect(text).not.toMatch(/10\.6\.0\.|db1\.other/);
    // Who owns the names is unknowable from such data: neither side gets a zone, and the warning says why.
    expect(zones.has('other.example.com')).toBe(false);
    expect(dns.warnings.join('\n')).toMatch(/db1\.other\.example\.com \(pool dmz\/hijack\) lies inside domain other\.example\.com \(network other\/onet\)/);
    expect(zones.get('dmz.example.com')).toContain('web\tIN\tA\t10.1.0.12\n');
  });

  it('5: a domain claimed in two security zones is withheld: the dmz records never land in a zone named for the victim', () => {
    const { dns, zones } = victimAndAttacker([pool('dmz', 'twin', ['10.7.0.0/24'], { dns: { domain: 'Other.Example.com.' } })], (p) => [allocation(p.twin!, '10.7.0.7', 'db1')]);
    expect(zones.has('other.example.com')).toBe(false);
    for (const text of zones.values()) expect(text).not.toContain('10.7.0.7');
    expect(dns.warnings.join('\n')).toContain('domain other.example.com is claimed in more than one security zone (network other/onet, pool dmz/twin)');
  });

  it('reverse zones: a dmz pool inside the victim’s network writes no PTR into the victim’s reverse zone', () => {
    const { zones } = victimAndAttacker();
    expect(zones.has('1.2.10.in-addr.arpa')).toBe(false);
    expect(whereIs(zones, 'sneaky.sneak.example.com', '10.2.1.5')).toEqual(['sneak.example.com A']);
  });
});

// The crafted cloud named serves besides c1: networks of every reverse shape.
const LAB_NETS = [
  network('lab', 'classless', '10.9.0.64/26', 'lab.example.org'), // RFC 2317: 64-127.0.9.10.in-addr.arpa, CNAMEs in 0.9.10
  network('lab', 'wide', '10.8.0.0/16', 'wide.example.org'), // aligned: 8.10.in-addr.arpa
  network('lab', 'pair', '10.7.2.0/23', 'pair.example.org'), // unaligned: 2.7.10 and 3.7.10.in-addr.arpa
  network('lab', 'v6odd', 'fd00:9:0:4::/62', 'v6.lab.example.org'), // unaligned: four /64 zones
  network('lab', 'v6small', 'fd00:9:1::/120', 'small.lab.example.org'), // nibble-aligned /120
  network('lab2', 'host', '10.6.6.6/32', 'host.example.org'), // a one-address network: its own /32 zone
];
const LAB_POOLS = {
  classless: pool('lab', 'pc', ['10.9.0.65-10.9.0.126'], { network: 'classless' }),
  legacy: pool('lab', 'legacy', ['10.9.0.200-10.9.0.210'], { dns: { domain: 'legacy.example.org' } }), // outside networks, same /24
  wide: pool('lab', 'pw', ['10.8.3.0/24'], { network: 'wide' }),
  pair: pool('lab', 'pp', ['10.7.2.1-10.7.3.254'], { network: 'pair' }),
  v6odd: pool('lab', 'p6', ['fd00:9:0:6::/120'], { network: 'v6odd' }),
  v6small: pool('lab', 'p6s', ['fd00:9:1::/120'], { network: 'v6small' }),
  host: pool('lab2', 'ph', ['10.6.6.6'], { network: 'host' }),
};
const LAB_NAMED: (Expect & { pool: keyof typeof LAB_POOLS; hostname: string })[] = [
  { fqdn: 'a.lab.example.org', address: '10.9.0.70', pool: 'classless', hostname: 'a' },
  { fqdn: 'b.lab.example.org', address: '10.9.0.126', pool: 'classless', hostname: 'B.lab.example.org.' },
  { fqdn: 'old.legacy.example.org', address: '10.9.0.201', pool: 'legacy', hostname: 'old' },
  { fqdn: 'w.wide.example.org', address: '10.8.3.5', pool: 'wide', hostname: 'w' },
  { fqdn: 'p2.pair.example.org', address: '10.7.2.9', pool: 'pair', hostname: 'p2' },
  { fqdn: 'p3.pair.example.org', address: '10.7.3.9', pool: 'pair', hostname: 'p3' },
  { fqdn: 'six.v6.lab.example.org', address: 'fd00:9:0:6::1', pool: 'v6odd', hostname: 'six' },
  { fqdn: 'tiny.small.lab.example.org', address: 'fd00:9:1::a', pool: 'v6small', hostname: 'tiny' },
  { fqdn: 'host.example.org', address: '10.6.6.6', pool: 'host', hostname: 'host.example.org' },
];
function lab() {
  const settings = resolved({ primaryNs: 'ns1.lab.example.org', primaryNsAddresses: ['192.0.2.10'], hostmaster: 'hostmaster@lab.example.org' });
  const dns = new CloudDns(X, Object.values(LAB_POOLS), { networks: LAB_NETS, settings });
  const allocations = LAB_NAMED.map((e) => allocation(LAB_POOLS[e.pool], e.address, e.hostname));
  return { dns, zones: render(dns, allocations) };
}

describe('reverse zones from networks (crafted networks)', () => {
  it('an aligned network is its zone, an unaligned one the aligned zones inside it, > /24 an RFC 2317 zone with CNAMEs in its /24', async () => {
    const { zones } = lab();
    expect([...zones.keys()].sort()).toEqual(
      [
        'lab.example.org',
        'legacy.example.org',
        'wide.example.org',
        'pair.example.org',
        'v6.lab.example.org',
        'small.lab.example.org',
        'host.example.org',
        '64-127.0.9.10.in-addr.arpa',
        '0.9.10.in-addr.arpa',
        '8.10.in-addr.arpa',
        '2.7.10.in-addr.arpa',
        '3.7.10.in-addr.arpa',
        '6.0.0.0.0.0.0.0.9.0.0.0.0.0.d.f.ip6.arpa',
        '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.9.0.0.0.0.0.d.f.ip6.arpa',
        '6.6.6.10.in-addr.arpa',
      ].sort(),
    );
    expect(zones.get('64-127.0.9.10.in-addr.arpa')).toContain('70\tIN\tPTR\ta.lab.example.org.\n');
    expect(zones.get('0.9.10.in-addr.arpa')).toContain('70\tIN\tCNAME\t70.64-127.0.9.10.in-addr.arpa.\n');
    expect(zones.get('0.9.10.in-addr.arpa')).toContain('201\tIN\tPTR\told.legacy.example.org.\n');
    expect(zones.get('8.10.in-addr.arpa')).toContain('5.3\tIN\tPTR\tw.wide.example.org.\n');
    expect(zones.get('6.6.6.10.in-addr.arpa')).toContain('@\tIN\tPTR\thost.example.org.\n');
    expect(zones.get('host.example.org')).toContain('@\tIN\tA\t10.6.6.6\n');
    expect(zones.get('0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.9.0.0.0.0.0.d.f.ip6.arpa')).toContain('a.0\tIN\tPTR\ttiny.small.lab.example.org.\n');
    for (const [z, text] of zones) expect((await checkzone(z, text)).code, `${z}\n${text}`).toBe(0);
  });
});

// A cloud with stored networks (the networks engine): issue 11's victim and attacker, written through the engine.
const N = 'n1';
const N_NAMED: Expect[] = [
  { fqdn: 'db1.other.example.com', address: '10.2.0.10' },
  { fqdn: 'web.dmz.example.com', address: '10.1.0.70' },
  { fqdn: 'web6.dmz.example.com', address: 'fd00:10::5' },
];

describe('zones from stored networks', () => {
  beforeAll(async () => {
    await ipam.setDnsSettings(N, { primaryNs: 'ns1.other.example.com', primaryNsAddresses: ['10.2.0.53'], hostmaster: 'hostmaster@other.example.com' }, ctx);
    await ipam.createNetwork(N, 'other', 'onet', { cidr: '10.2.0.0/24', gateway: '10.2.0.1', dns: { domain: 'other.example.com' } }, ctx);
    await ipam.createPool(N, 'other', 'pb', { ranges: ['10.2.0.0/24'], network: 'onet' }, ctx);
    await ipam.createNetwork(N, 'dmz', 'dnet', { cidr: '10.1.0.64/26', gateway: '10.1.0.65', dns: { domain: 'dmz.example.com' } }, ctx);
    await ipam.createPool(N, 'dmz', 'pa', { ranges: ['10.1.0.64/26'], network: 'dnet' }, ctx);
    await ipam.createNetwork(N, 'dmz', 'dnet6', { cidr: 'fd00:10::/64', dns: { domain: 'dmz.example.com' } }, ctx);
    await ipam.createPool(N, 'dmz', 'pa6', { ranges: ['fd00:10::/120'], network: 'dnet6' }, ctx);
    // Attack 3's pool: another zone's domain that sorts first.
    await ipam.createPool(N, 'dmz', 'aaa', { ranges: ['10.5.0.0/24'], dns: { domain: 'aaa.example.com' } }, ctx);
    const at = (zone: string, pool: string, vm: string, address: string, hostname: string) => ipam.allocate({ cloud: N, zone, pool, holder: { kind: 'vm', id: vm }, address, hostname }, ctx);
    await at('other', 'pb', 'db1', '10.2.0.10', 'db1');
    await at('dmz', 'pa', 'web', '10.1.0.70', 'web');
    await at('dmz', 'pa6', 'web6', 'fd00:10::5', 'web6');
    // Attacks 1 and 2 as a dmz pipeline would send them: refused at write time (400, not a name of the
    // pool's network's domain), and the zones must not carry them either.
    for (const [address, hostname] of [['10.1.0.71', 'db1.other.example.com'], ['10.1.0.72', 'ns1.other.example.com']]) {
      expect(await reasonOf(at('dmz', 'pa', `evil-${address}`, address!, hostname!))).toBe('HostnameOutsideDomain');
    }
  });

  it('a forward zone per owned domain (dual stack), reverse zones of the networks (RFC 2317 for the /26), SOA/NS from the settings', async () => {
    expect(await listZones(ipam, N)).toEqual([
      { name: 'aaa.example.com', kind: 'forward', records: 0 },
      { name: 'dmz.example.com', kind: 'forward', records: 2 },
      { name: 'other.example.com', kind: 'forward', records: 1 },
      { name: '0.1.10.in-addr.arpa', kind: 'reverse', records: 1 },
      { name: '64-127.0.1.10.in-addr.arpa', kind: 'reverse', records: 1 },
      { name: '0.2.10.in-addr.arpa', kind: 'reverse', records: 1 },
      { name: '0.0.0.0.0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa', kind: 'reverse', records: 1 },
    ]);
    const other = await collect(zoneFile(ipam, N, 'other.example.com'));
    expect(other.split('\n').filter((l) => /\tIN\t(A|AAAA)\t/.test(l))).toEqual(['ns1\tIN\tA\t10.2.0.53', 'db1\tIN\tA\t10.2.0.10']);
    for (const z of await listZones(ipam, N)) {
      const text = await collect(zoneFile(ipam, N, z.name));
      expect(text, z.name).toMatch(/\tSOA\tns1\.other\.example\.com\. hostmaster\.other\.example\.com\. /);
      expect(text).not.toMatch(/10\.1\.0\.7[12]|127\.0\.0\.1|ns1\.aaa/);
      const r = await checkzone(z.name, text);
      expect(r.code, `${z.name}: ${r.out}\n${text}`).toBe(0);
    }
    expect(await listZones(ipam, N, { zone: 'other' })).toEqual([
      { name: 'other.example.com', kind: 'forward', records: 1 },
      { name: '0.2.10.in-addr.arpa', kind: 'reverse', records: 1 },
    ]);
  });

  it('attack 4 and 5 are refused at write time (DomainTaken), and the zones are unchanged', async () => {
    const before = await listZones(ipam, N);
    expect(await reasonOf(ipam.createPool(N, 'dmz', 'hijack', { ranges: ['10.6.0.0/24'], dns: { domain: 'db1.other.example.com' } }, ctx))).toBe('DomainTaken');
    expect(await reasonOf(ipam.createPool(N, 'dmz', 'twin', { ranges: ['10.7.0.0/24'], dns: { domain: 'other.example.com' } }, ctx))).toBe('DomainTaken');
    expect(await listZones(ipam, N)).toEqual(before);
  });
});

describe('zone files served by a real named', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let log = '';

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('passes named-checkzone for every zone', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dns-'));
    for (const z of await listZones(ipam, CLOUD)) {
      const text = await collect(zoneFile(ipam, CLOUD, z.name));
      writeFileSync(path.join(dir, `${z.name}.zone`), text);
      const r = await checkzone(z.name, text);
      expect(r.code, `named-checkzone ${z.name}:\n${r.out}\n${text}`).toBe(0);
      expect(r.out).toContain('OK');
    }
    for (const [z, text] of lab().zones) {
      writeFileSync(path.join(dir, `${z}.zone`), text);
      expect((await checkzone(z, text)).code, z).toBe(0);
    }
    for (const z of await listZones(ipam, N)) writeFileSync(path.join(dir, `${z.name}.zone`), await collect(zoneFile(ipam, N, z.name)));
  });

  it('answers A, AAAA and PTR for every named allocation, the name servers from the settings, PTRs of RFC 2317 zones through their CNAMEs', async () => {
    const namedBin = tool('named', 'bind9');
    const dig = tool('dig', 'bind9-dnsutils');
    const zones = [...(await listZones(ipam, CLOUD)).map((z) => z.name), ...lab().zones.keys(), ...(await listZones(ipam, N)).map((z) => z.name)];
    const port = await freePort();
    const conf = path.join(dir, 'named.conf');
    writeFileSync(
      conf,
      [
        'options {',
        `  directory "${dir}";`,
        `  listen-on port ${port} { 127.0.0.1; };`,
        '  listen-on-v6 { none; };',
        '  recursion no;',
        '  dnssec-validation no;',
        `  pid-file "${dir}/named.pid";`,
        `  session-keyfile "${dir}/session.key";`,
        `  managed-keys-directory "${dir}";`,
        '};',
        ...zones.map((z) => `zone "${z}" { type primary; file "${dir}/${z}.zone"; };`),
        '',
      ].join('\n'),
    );
    await exec(tool('named-checkconf', 'bind9-utils'), [conf]);
    const args = ['-g', '-c', conf, ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
    proc = spawn(namedBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const dg = async (...a: string[]) => (await exec(dig, ['@127.0.0.1', '-p', String(port), '+short', '+norec', '+time=2', '+tries=1', ...a])).stdout.trim().split('\n').filter(Boolean);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`named exited with ${proc.exitCode}:\n${log}`);
      if ((await dg('example.com', 'SOA').catch(() => [])).length) break;
      if (Date.now() > deadline) throw new Error(`named did not answer within 20 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const e of [...named, ...LAB_NAMED, ...N_NAMED]) {
      const fam = parseAddress(e.address).family;
      expect(await dg(e.fqdn, fam === 4 ? 'A' : 'AAAA'), `${e.fqdn} ${fam === 4 ? 'A' : 'AAAA'}`).toEqual([e.address]);
      let ptr = await dg('-x', e.address);
      // An address of an RFC 2317 zone answers a CNAME into that zone (named chases no CNAME out of a
      // zone when authoritative); a resolver asks for the target's PTR next, and so does this test.
      if (ptr.length === 1 && ptr[0]!.includes('-')) ptr = await dg(ptr[0]!, 'PTR');
      expect(ptr, `PTR ${e.address}`).toEqual([`${e.fqdn}.`]);
    }
    expect(await dg('-x', '10.9.0.70')).toEqual(['70.64-127.0.9.10.in-addr.arpa.']);
    expect(await dg('70.64-127.0.9.10.in-addr.arpa', 'PTR')).toEqual(['a.lab.example.org.']);
    // The name server: from the settings, not from the allocation named ns1 (10.30.0.53).
    expect((await dg('ns1.example.com', 'A')).sort()).toEqual(['192.0.2.53']);
    expect((await dg('prod.example.com', 'NS')).sort()).toEqual(['ns1.example.com.', 'ns2.example.net.']);
    expect((await dg('prod.example.com', 'SOA'))[0]).toMatch(/^ns1\.example\.com\. dns\\\.admin\.example\.com\. \d+ 3600 600 1209600 300$/);
    // No record for names outside their own domain, nameless allocations, blocks or pools without a domain.
    for (const a of ['10.30.0.5', '10.30.0.7', '10.30.0.9', '10.30.0.32', '10.40.0.5', '10.40.0.6', '10.30.0.53', '10.20.0.12']) expect(await dg('-x', a), a).toEqual([]);
    for (const n of ['mail.example.com', 'www.prod.example.com', 'blk.example.com']) expect(await dg(n, 'A'), n).toEqual([]);
    expect(await dg('api.prod.example.com', 'AAAA')).toEqual([]);
    // Issue 11's victim: its name and its name server answer only what zone `other` owns.
    expect(await dg('db1.other.example.com', 'A')).toEqual(['10.2.0.10']);
    expect(await dg('ns1.other.example.com', 'A')).toEqual(['10.2.0.53']);
    expect((await dg('aaa.example.com', 'SOA'))[0]).toMatch(/^ns1\.other\.example\.com\. /);
    for (const a of ['10.1.0.71', '10.1.0.72']) expect(await dg('-x', a), a).toEqual([]);
  });
});

describe('serials', () => {
  it('the serial increases after a change, and the change shows', async () => {
    const soaSerial = (text: string) => Number(/\tSOA\t\S+ \S+ (\d+) /.exec(text)![1]);
    const before = await collect(zoneFile(ipam, CLOUD, 'example.com'));
    await new Promise((r) => setTimeout(r, 1100)); // the change clock counts seconds
    await ipam.updateAllocation(CLOUD, '10.30.0.6', { hostname: 'db1-renamed' }, ctx);
    const after = await collect(zoneFile(ipam, CLOUD, 'example.com'));
    expect(soaSerial(after)).toBeGreaterThan(soaSerial(before));
    expect(after).toContain('db1-renamed\tIN\tA\t10.30.0.6\n');
    expect(after).not.toContain('db1\t');
    const rev = await collect(zoneFile(ipam, CLOUD, '0.30.10.in-addr.arpa'));
    expect(rev).toContain('6\tIN\tPTR\tdb1-renamed.example.com.\n');
    await ipam.updateAllocation(CLOUD, '10.30.0.6', { hostname: 'db1' }, ctx);
  });
});

describe('routes in process', () => {
  const router = new Router(integrationRoutes);
  const call = (method: string, p: string, query: Record<string, string> = {}, body?: unknown): Promise<ApiResponse> =>
    router.handle({ ipam, environments }, { method, path: p, query, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : null, principal: 'test', requestId: 'r1' });

  it('lists zones (?zone= filters), serves one as text/dns, 404s an unknown zone, 400s a bad name', async () => {
    const list = await call('GET', `/v1/clouds/${CLOUD}/dns/zones`);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).items.map((z: { name: string }) => z.name)).toContain('0.20.10.in-addr.arpa');
    expect(JSON.parse((await call('GET', `/v1/clouds/${CLOUD}/dns/zones`, { zone: 'z2' })).body).items.map((z: { name: string }) => z.name)).toEqual(['v6.example.net', V6_ZONE]);
    expect((await call('GET', `/v1/clouds/${CLOUD}/dns/zones`, { zone: 'Z2' })).status).toBe(400);
    const zone = await call('GET', `/v1/clouds/${CLOUD}/dns/zones/prod.example.com`);
    expect(zone.status).toBe(200);
    expect(zone.headers['content-type']).toBe('text/dns');
    expect(zone.body).toContain('web1\tIN\tA\t10.20.0.10');
    expect((await call('GET', `/v1/clouds/${CLOUD}/dns/zones/prod.example.com`, { zone: 'z2' })).status).toBe(404);
    const missing = await call('GET', `/v1/clouds/${CLOUD}/dns/zones/nope.example.com`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ reason: 'ZoneNotFound' });
    expect((await call('GET', `/v1/clouds/${CLOUD}/dns/zones/bad_name`)).status).toBe(400);
  });

  it('answers 409 DnsNotConfigured for a cloud without settings, 404 for its settings; PUT sets them, GET reads them back', async () => {
    const list = await call('GET', '/v1/clouds/nocloud/dns/zones');
    expect(list.status).toBe(409);
    expect(JSON.parse(list.body)).toMatchObject({ reason: 'DnsNotConfigured', status: 409 });
    expect(JSON.parse(list.body).detail).toMatch(/PUT \/v1\/clouds\/nocloud\/dns .*ipam:dnsPrimaryNs/);
    expect((await call('GET', '/v1/clouds/nocloud/dns/zones/x.example.com')).status).toBe(409);
    expect(JSON.parse((await call('GET', '/v1/clouds/nocloud/dns')).body)).toMatchObject({ status: 404, reason: 'DnsSettingsNotFound' });
    expect((await call('PUT', '/v1/clouds/nocloud/dns', {}, { primaryNs: 'ns1.example.com' })).status).toBe(400);
    expect((await call('PUT', '/v1/clouds/nocloud/dns', {}, { primaryNs: 'ns1.example.com', hostmaster: 'h@example.com', bogus: 1 })).status).toBe(400);
    const put = await call('PUT', '/v1/clouds/nocloud/dns', {}, { primaryNs: 'ns1.example.com', hostmaster: 'h@example.com', negativeTtl: 60 });
    expect(put.status).toBe(200);
    expect(JSON.parse(put.body)).toEqual({ primaryNs: 'ns1.example.com', primaryNsAddresses: [], secondaryNs: [], hostmaster: 'h@example.com', ttl: 300, refresh: 3600, retry: 600, expire: 1209600, negativeTtl: 60, source: 'cloud', updatedAt: expect.any(String), updatedBy: 'test' });
    expect(JSON.parse((await call('GET', '/v1/clouds/nocloud/dns')).body)).toEqual(JSON.parse(put.body));
    expect(JSON.parse((await call('GET', '/v1/clouds/nocloud/dns/zones')).body)).toEqual({ items: [] });
  });

  it('serves DHCP reservations as kea JSON and dnsmasq text, 400s a bad format', async () => {
    const kea = await call('GET', `/v1/clouds/${CLOUD}/dhcp`, { format: 'kea' });
    expect(kea.headers['content-type']).toBe('application/json');
    // These pools are in no network: DHCP serves networks only (test/dhcp.test.ts), and names them as not exported.
    expect(JSON.parse(kea.body)).toMatchObject({ subnet4: [], 'user-context': { ipam: { notExported: expect.arrayContaining([{ pool: 'z1/web', reason: 'in no network' }]) } } });
    const dm = await call('GET', `/v1/clouds/${CLOUD}/dhcp`, { format: 'dnsmasq', zone: 'z1' });
    expect(dm.headers['content-type']).toMatch(/^text\/plain/);
    expect(dm.body).toContain('# not exported: pool z1/web (in no network)\n');
    expect((await call('GET', `/v1/clouds/${CLOUD}/dhcp`, { format: 'bind' })).status).toBe(400);
  });
});

describe('routes over signed HTTP through the local service (deployment defaults in IPAM_DNS_*)', () => {
  let svc: RunningService;
  const NET = { accessKeyId: 'AKIADNSNETADMIN00006', secretAccessKey: 'dnsnet-secret-0123456789abcdefghijklmnopq', principal: 'arn:aws:iam::111122223333:role/net', allow: allowPatterns(networkAdmin('h1')) };
  const NET_Z = { accessKeyId: 'AKIADNSNETADMINZ0007', secretAccessKey: 'dnsnetz-secret-0123456789abcdefghijklmnop', principal: 'arn:aws:iam::111122223333:role/net-z', allow: allowPatterns(networkAdmin('h1', 'z')) };
  const PIPE = { accessKeyId: 'AKIADNSZONEPIPE00008', secretAccessKey: 'dnspipe-secret-0123456789abcdefghijklmno', principal: 'arn:aws:iam::111122223333:role/pipe', allow: allowPatterns(zonePipeline('h1', 'z')) };
  const send = async (caller: typeof ADMIN, method: string, p: string, body?: unknown) => sendSigned(svc, await signRequest(svc, method, p, { caller, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) }));

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dns-svc-'));
    const callersFile = path.join(dir, 'callers.json');
    writeFileSync(callersFile, JSON.stringify([ADMIN, NET, NET_Z, PIPE]), { mode: 0o600 });
    svc = await startService(
      { IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_CALLERS_FILE: callersFile, IPAM_DNS_PRIMARY_NS: 'ns1.deploy.example.org', IPAM_DNS_PRIMARY_NS_ADDRESSES: '192.0.2.99', IPAM_DNS_HOSTMASTER: 'hostmaster@deploy.example.org', IPAM_DNS_TTL: '120' },
      { dataDir: dir },
    );
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('GET dns/zones, dns/zones/{zoneName} and dhcp', async () => {
    const c = svc.client();
    await c.request('PUT', '/v1/clouds/h1/zones/z/pools/p', { body: { ranges: ['10.50.0.0/24'], dns: { domain: 'h1.example.org' } } });
    await c.request('POST', '/v1/clouds/h1/zones/z/pools/p/allocations', { body: { vm: 'vm-1', address: '10.50.0.9', hostname: 'app', mac: '52:54:00:aa:bb:cc' } });
    const zones = await c.request<{ items: { name: string; records: number }[] }>('GET', '/v1/clouds/h1/dns/zones');
    expect(zones.body.items).toEqual([
      { name: 'h1.example.org', kind: 'forward', records: 1 },
      { name: '0.50.10.in-addr.arpa', kind: 'reverse', records: 1 },
    ]);
    const fwd = await c.request<string>('GET', '/v1/clouds/h1/dns/zones/h1.example.org', { accept: 'text/dns' });
    expect(fwd.headers.get('content-type')).toBe('text/dns');
    expect(fwd.body).toContain('app\tIN\tA\t10.50.0.9\n');
    const rev = await c.request<string>('GET', '/v1/clouds/h1/dns/zones/0.50.10.in-addr.arpa', { accept: 'text/dns' });
    expect(rev.body).toContain('9\tIN\tPTR\tapp.h1.example.org.\n');
    const missing = await c.request('GET', '/v1/clouds/h1/dns/zones/1.50.10.in-addr.arpa').catch((e) => e);
    expect(missing.status).toBe(404);
    const kea = await c.request<{ subnet4: unknown[] }>('GET', '/v1/clouds/h1/dhcp', { query: { format: 'kea' } });
    expect(kea.body).toEqual({ subnet4: [], 'user-context': { ipam: { cloud: 'h1', notExported: [{ pool: 'z/p', reason: 'in no network' }] } } });
    const dm = await c.request<string>('GET', '/v1/clouds/h1/dhcp', { query: { format: 'dnsmasq', pool: 'p' }, accept: 'text/plain' });
    expect(dm.body).toContain('# not exported: pool z/p (in no network)\n');
  });

  it('serves the deployment defaults until the cloud has its own; only a cloud-wide network admin may set or read them', async () => {
    const zoneText = async () => (await send(ADMIN, 'GET', '/v1/clouds/h1/dns/zones/h1.example.org')).body as string;
    expect(await send(ADMIN, 'GET', '/v1/clouds/h1/dns')).toMatchObject({ status: 200, body: { primaryNs: 'ns1.deploy.example.org', primaryNsAddresses: ['192.0.2.99'], hostmaster: 'hostmaster@deploy.example.org', ttl: 120, source: 'deployment' } });
    const before = await zoneText();
    expect(before).toContain('$TTL 120\n');
    expect(before).toMatch(/\tSOA\tns1\.deploy\.example\.org\. hostmaster\.deploy\.example\.org\. \d+ /);
    const body = { primaryNs: 'ns1.h1.example.org', primaryNsAddresses: ['10.50.0.53'], secondaryNs: ['ns2.example.net'], hostmaster: 'dns@h1.example.org' };
    // A zone pipeline and a zone's network admin are not granted the route: 403 as from API Gateway, nothing changes.
    for (const caller of [PIPE, NET_Z]) {
      for (const [m, b] of [['PUT', body], ['GET', undefined]] as const) {
        const r = await send(caller, m, '/v1/clouds/h1/dns', b);
        expect(r.status, `${caller.principal} ${m}`).toBe(403);
        expect(r.body).toHaveProperty('message');
      }
      expect((await send(caller, 'GET', '/v1/clouds/h1/dns/zones')).status).toBe(403);
    }
    expect((await send(ADMIN, 'GET', '/v1/clouds/h1/dns')).body.source).toBe('deployment');
    expect((await send(NET, 'PUT', '/v1/clouds/h1/dns', { ...body, primaryNs: 'ns1' })).status).toBe(400);
    const proto = await send(NET, 'PUT', '/v1/clouds/h1/dns', JSON.stringify(body).replace(/}$/, ',"__proto__":{"x":1}}'));
    expect(proto).toMatchObject({ status: 400, body: { reason: 'ReservedKey' } });
    const put = await send(NET, 'PUT', '/v1/clouds/h1/dns', body);
    expect(put).toMatchObject({ status: 200, body: { ...body, secondaryNs: [{ name: 'ns2.example.net', addresses: [] }], ttl: 120, source: 'cloud', updatedBy: NET.principal } });
    expect((await send(NET, 'GET', '/v1/clouds/h1/dns')).body).toEqual(put.body);
    const after = await zoneText();
    expect(after).toMatch(/\tSOA\tns1\.h1\.example\.org\. dns\.h1\.example\.org\. \d+ /);
    expect(after).toContain('@\tIN\tNS\tns1.h1.example.org.\n@\tIN\tNS\tns2.example.net.\nns1\tIN\tA\t10.50.0.53\n');
    expect(after).not.toContain('deploy');
    expect((await send(NET, 'GET', '/v1/clouds/h1/dns/zones')).status).toBe(200);
    const r = await checkzone('h1.example.org', after);
    expect(r.code, r.out).toBe(0);
  });
});
