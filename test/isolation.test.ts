/**
 * Zone isolation, proven (issue 11, item 9): over real HTTP with real SigV4, a caller whose only grant is
 * `clouds/c/zones/dmz/*` (everything of zone dmz: its pools, networks, allocations, environments) sends
 * the issue's five reproductions and the attacks on networks, MACs and cloud-init. After every attempt the
 * admin reads what zone `other` owns and it must be exactly as before:
 *
 *  - the DNS zone other.example.com and its reverse zone, as named-checkzone dumps them (the record set,
 *    SOA and NS included; the SOA serial is the cloud's change clock, so it is the only field masked), and
 *    the name server ns1.other.example.com's address in it;
 *  - the DHCP export of zone other, kea and dnsmasq;
 *  - the definition of its network, db1's allocation, and db1's cloud-init network-config.
 *
 * Every attempt is either refused (4xx, checked by status and reason) or a success in dmz's own space,
 * which is harmless by the snapshot comparison. Whole-cloud checks at the end: no zone file of the cloud
 * names anything under other.example.com but other's own zones, and no DHCP subnet or reservation of
 * another zone reaches into 10.2.0.0/24.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type IpamClient } from '../lib/client/client.js';
import { networkConfig } from '../lib/integrations/cloud-init.js';
import type { AllocationView } from '../lib/core/network.js';
import { ADMIN, sendSigned, signRequest, startService, type RunningService } from './service.js';
import { ddbEndpoint } from './support.js';
import { tool } from './tools.js';

const exec = promisify(execFile);
const C = 'c';
const ATTACKER = { accessKeyId: 'AKIAISOLATIONDMZ0009', secretAccessKey: 'iso-dmz-secret-0123456789abcdefghijklmnop', principal: 'arn:aws:iam::111122223333:role/dmz-only', allow: [`clouds/${C}/zones/dmz/*`] };

// Zone other: network 10.2.0.0/24, domain other.example.com, name server ns1.other.example.com, VM db1.
const VICTIM_MAC = '52:54:00:aa:bb:cc';
const DB1 = '10.2.0.10';
const NS1 = '10.2.0.53';
const OTHER_ZONE = 'other.example.com';
const OTHER_REVERSE = '0.2.10.in-addr.arpa';

let svc: RunningService;
let admin: IpamClient;
let dir: string;

type Answer = { status: number; type: string; body: any };
async function send(caller: { accessKeyId: string; secretAccessKey: string }, method: string, p: string, body?: unknown, query?: Record<string, string>): Promise<Answer> {
  const req = await signRequest(svc, method, p, { caller, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(query ? { query } : {}) });
  return sendSigned(svc, req);
}
const attack = (method: string, p: string, body?: unknown, query?: Record<string, string>) => send(ATTACKER, method, `/v1/clouds/${C}${p}`, body, query);
const asAdmin = async (method: string, p: string, body?: unknown, query?: Record<string, string>) => {
  const r = await send(ADMIN, method, `/v1/clouds/${C}${p}`, body, query);
  expect(r.status, `admin ${method} ${p} -> ${r.status} ${JSON.stringify(r.body)}`).toBeLessThan(300);
  return r;
};

/** A zone file as named-checkzone loads and dumps it (canonical names, one record a line), the SOA serial masked. */
async function records(zone: string, text: string): Promise<string[]> {
  const f = path.join(mkdtempSync(path.join(dir, 'zone-')), 'zone');
  writeFileSync(f, text);
  const r = await exec(tool('named-checkzone', 'bind9-utils'), ['-q', '-k', 'fail', '-n', 'fail', '-i', 'local', '-D', '-o', '-', zone, f]).catch((e) => e);
  expect(r.code ?? 0, `named-checkzone ${zone}:\n${r.stderr}\n${text}`).toBe(0);
  const lines = (r.stdout as string).split('\n').filter(Boolean).map((l) => l.split(/\s+/).join(' '));
  return lines.map((l) => l.replace(/^(\S+ \d+ IN SOA \S+ \S+) \d+ /, '$1 SERIAL ')).sort();
}

const zoneText = async (zone: string) => (await asAdmin('GET', `/dns/zones/${zone}`)).body as string;

/** Everything zone other owns, as the admin reads it. */
async function snapshot() {
  const other = await records(OTHER_ZONE, await zoneText(OTHER_ZONE));
  return {
    dns: other,
    reverse: await records(OTHER_REVERSE, await zoneText(OTHER_REVERSE)),
    dnsZones: (await asAdmin('GET', '/dns/zones', undefined, { zone: 'other' })).body,
    kea: (await asAdmin('GET', '/dhcp', undefined, { format: 'kea', zone: 'other' })).body,
    dnsmasq: (await asAdmin('GET', '/dhcp', undefined, { format: 'dnsmasq', zone: 'other' })).body,
    network: (await asAdmin('GET', '/zones/other/networks/db')).body,
    pool: (await asAdmin('GET', '/zones/other/pools/db')).body,
    db1: (await asAdmin('GET', `/addresses/${DB1}`)).body,
    db1Held: (await asAdmin('GET', '/zones/other/vms/db1/allocations')).body,
    networkConfig: (await asAdmin('GET', '/zones/other/vms/db1/network-config')).body,
    cloudNic: await cloudNic(),
  };
}

type Ethernet = { match?: { macaddress?: string }; routes?: { to: string; via: string; metric?: number }[]; [k: string]: unknown };
/**
 * db1's NIC in the cloud's network-config (what a cloud-wide caller, or `ipam network-config c db1`, gets).
 * db1's name is the cloud's, so another zone may add NICs of its own to the document; db1's NIC (its
 * ethernet, matched by its MAC, named eth0) must stay exactly as it was, its default route still the
 * preferred one. Or the document is refused (409 NicConflict) when another zone claims db1's MAC or name.
 */
async function cloudNic() {
  const r = await send(ADMIN, 'GET', `/v1/clouds/${C}/vms/db1/network-config`);
  if (r.status === 409 && r.body.reason === 'NicConflict') return 'refused';
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const ethernets = parseYaml(r.body as string).network.ethernets as Record<string, Ethernet>;
  const mine = Object.entries(ethernets).filter(([id, e]) => id === 'eth0' || e.match?.macaddress?.toLowerCase() === VICTIM_MAC);
  expect(mine.map(([id]) => id), r.body).toEqual(['eth0']);
  const eth0 = mine[0]![1];
  const metric = (e: Ethernet) => e.routes?.find((x) => x.to === 'default')?.metric ?? 0;
  for (const [id, e] of Object.entries(ethernets)) if (id !== 'eth0' && e.routes?.some((x) => x.to === 'default')) expect(metric(e), r.body).toBeGreaterThan(metric(eth0));
  return { ...eth0, routes: eth0.routes?.map(({ to, via }) => ({ to, via })) };
}
let before: Awaited<ReturnType<typeof snapshot>>;
/** After each attempt: nothing of zone other changed (the cloud's document of db1 may be refused instead). */
const unchanged = async (what: string) => {
  const now = await snapshot();
  expect({ ...now, cloudNic: now.cloudNic === 'refused' ? before.cloudNic : now.cloudNic }, what).toEqual(before);
};

/** Sends the attempt, checks its outcome (a status, or status and reason), then that zone other is unchanged. */
async function tryIt(expected: number | [number, string], method: string, p: string, body?: unknown, query?: Record<string, string>): Promise<Answer> {
  const r = await attack(method, p, body, query);
  const what = `${method} ${p} ${JSON.stringify(body ?? '')} -> ${r.status} ${JSON.stringify(r.body)}`;
  const [status, reason] = Array.isArray(expected) ? expected : [expected, undefined];
  expect(r.status, what).toBe(status);
  if (reason !== undefined) expect(r.body?.reason, what).toBe(reason);
  await unchanged(what);
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-isolation-'));
  const callersFile = path.join(dir, 'callers.json');
  writeFileSync(callersFile, JSON.stringify([ADMIN, ATTACKER]), { mode: 0o600 });
  svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_CALLERS_FILE: callersFile }, { dataDir: dir });
  admin = svc.client();
  // The cloud's DNS settings: every zone's SOA and NS name ns1.other.example.com, whose address is NS1.
  await asAdmin('PUT', '/dns', { primaryNs: `ns1.${OTHER_ZONE}`, primaryNsAddresses: [NS1], hostmaster: `hostmaster@${OTHER_ZONE}` });
  await admin.createNetwork(C, 'other', 'db', { cidr: '10.2.0.0/24', gateway: '10.2.0.1', dnsServers: [NS1], searchDomains: [OTHER_ZONE], mtu: 1400, dns: { domain: OTHER_ZONE } });
  await admin.createPool(C, 'other', 'db', { ranges: ['10.2.0.0/24'], network: 'db' });
  await admin.allocate(C, 'other', 'db', { vm: 'db1', name: 'eth0', address: DB1, mac: VICTIM_MAC, hostname: 'db1' });
  before = await snapshot();
}, 120_000);
afterAll(async () => {
  await svc?.stop();
});

describe('a caller granted only zone dmz changes nothing zone other owns', () => {
  it('the victim is what the issue describes (the snapshot is real)', () => {
    expect(before.dns).toContainEqual(`db1.${OTHER_ZONE}. 300 IN A ${DB1}`);
    expect(before.dns).toContainEqual(`ns1.${OTHER_ZONE}. 300 IN A ${NS1}`);
    expect(before.dns).toContainEqual(`${OTHER_ZONE}. 300 IN NS ns1.${OTHER_ZONE}.`);
    expect(before.dns).toContainEqual(`${OTHER_ZONE}. 300 IN SOA ns1.${OTHER_ZONE}. hostmaster.${OTHER_ZONE}. SERIAL 3600 600 1209600 300`);
    expect(before.reverse).toContainEqual(`10.${OTHER_REVERSE}. 300 IN PTR db1.${OTHER_ZONE}.`);
    expect(before.kea.subnet4).toEqual([expect.objectContaining({ subnet: '10.2.0.0/24', reservations: [{ 'hw-address': VICTIM_MAC, 'ip-address': DB1, hostname: `db1.${OTHER_ZONE}` }] })]);
    expect(before.dnsmasq).toContain(`dhcp-host=${VICTIM_MAC},${DB1},db1.${OTHER_ZONE}\n`);
    expect(before.networkConfig).toContain(`macaddress: "${VICTIM_MAC}"`);
    expect(before.networkConfig).toContain(`"${DB1}/24"`);
    // The cloud's document of db1 is the zone's (db1 holds addresses in zone other only).
    expect(before.cloudNic).toEqual(parseYaml(before.networkConfig).network.ethernets.eth0);
    expect(before.cloudNic).toMatchObject({ match: { macaddress: VICTIM_MAC }, 'set-name': 'eth0', addresses: [`${DB1}/24`], routes: [{ to: 'default', via: '10.2.0.1' }] });
  });

  it("dmz's own network and pool: ordinary successes", async () => {
    await tryIt(201, 'PUT', '/zones/dmz/networks/web', { cidr: '10.3.0.0/24', gateway: '10.3.0.1', dnsServers: ['10.3.0.53'], routes: [{ to: '10.2.0.0/24', via: '10.3.0.1' }], dns: { domain: 'dmz.example.com' } });
    await tryIt(201, 'PUT', '/zones/dmz/pools/web', { ranges: ['10.3.0.0/24'], network: 'web' });
  });

  it('1: a dmz allocation named db1.other.example.com is refused; the label db1 is a name of dmz', async () => {
    for (const hostname of [`db1.${OTHER_ZONE}`, 'DB1.Other.Example.COM.', `x.db1.${OTHER_ZONE}`]) {
      await tryIt([400, 'HostnameOutsideDomain'], 'POST', '/zones/dmz/pools/web/allocations', { vm: 'evil-1', hostname });
    }
    const ok = await tryIt(201, 'POST', '/zones/dmz/pools/web/allocations', { vm: 'evil-1', hostname: 'db1' });
    expect(await records('dmz.example.com', await zoneText('dmz.example.com'))).toContainEqual(`db1.dmz.example.com. 300 IN A ${ok.body.address}`);
  });

  it('2: a dmz allocation named ns1.other.example.com is refused; the name server keeps its address', async () => {
    for (const hostname of [`ns1.${OTHER_ZONE}`, `NS1.${OTHER_ZONE}.`]) {
      await tryIt([400, 'HostnameOutsideDomain'], 'POST', '/zones/dmz/pools/web/allocations', { vm: 'evil-2', hostname });
    }
    await tryIt(201, 'POST', '/zones/dmz/pools/web/allocations', { vm: 'evil-2', hostname: 'ns1' });
    // The DNS settings (the name servers of every zone) are not the zone's.
    await tryIt(403, 'PUT', '/dns', { primaryNs: 'ns1.dmz.example.com', primaryNsAddresses: ['10.3.0.66'], hostmaster: 'pwn@dmz.example.com' });
  });

  it("3: a dmz network or pool with domain aaa.example.com does not change other's SOA or NS", async () => {
    await tryIt(201, 'PUT', '/zones/dmz/networks/aaa', { cidr: '10.4.0.0/24', dns: { domain: 'aaa.example.com' } });
    await tryIt(201, 'PUT', '/zones/dmz/pools/aaa', { ranges: ['10.4.0.0/25'], network: 'aaa' });
    await tryIt(201, 'POST', '/zones/dmz/pools/aaa/allocations', { vm: 'evil-3', hostname: 'www' });
    await tryIt(201, 'PUT', '/zones/dmz/pools/aaaa', { ranges: ['10.5.0.0/24'], dns: { domain: 'aa.example.com' } });
    await tryIt(201, 'POST', '/zones/dmz/pools/aaaa/allocations', { vm: 'evil-3', hostname: 'www' });
    // The attacker's zones are named by the cloud's settings too, not by their own domain.
    for (const z of ['aaa.example.com', 'aa.example.com']) {
      const rs = await records(z, await zoneText(z));
      expect(rs).toContainEqual(`${z}. 300 IN NS ns1.${OTHER_ZONE}.`);
      expect(rs).toContainEqual(`${z}. 300 IN SOA ns1.${OTHER_ZONE}. hostmaster.${OTHER_ZONE}. SERIAL 3600 600 1209600 300`);
    }
  });

  it('4: a dmz network or pool claiming db1.other.example.com, other.example.com or example.com is refused', async () => {
    const stolen: [string, [number, string]][] = [
      [`db1.${OTHER_ZONE}`, [409, 'DomainTaken']],
      [OTHER_ZONE, [409, 'DomainTaken']],
      ['example.com', [409, 'DomainTaken']],
      ['Other.Example.COM.', [409, 'DomainTaken']],
      [`x.${OTHER_ZONE}`, [409, 'DomainTaken']],
      ['com', [400, 'InvalidInput']], // a single label is no domain
    ];
    for (const [i, [domain, refused]] of stolen.entries()) {
      await tryIt(refused, 'PUT', `/zones/dmz/networks/steal${i}`, { cidr: `10.7.${i}.0/24`, dns: { domain } });
      await tryIt(refused, 'PUT', `/zones/dmz/pools/steal${i}`, { ranges: [`10.7.${i}.0/24`], dns: { domain } });
      // ... nor by changing dmz's existing network or pool.
      await tryIt(refused, 'PATCH', '/zones/dmz/networks/web', { dns: { domain } });
      await tryIt(refused, 'PATCH', '/zones/dmz/pools/aaaa', { dns: { domain } });
    }
    // Other's reverse zone, or its parent, named as a forward domain: its hosts' names would be PTR owners of 10.2.0.0/24.
    for (const [i, domain] of [OTHER_REVERSE, '10.in-addr.arpa', '2.10.in-addr.arpa'].entries()) {
      const r = await attack('PUT', `/zones/dmz/networks/rev${i}`, { cidr: `10.7.10${i}.0/24`, dns: { domain } });
      expect([201, 400, 409], JSON.stringify(r)).toContain(r.status);
      await unchanged(`a dmz network with domain ${domain}`);
      if (r.status !== 201) continue;
      await tryIt(201, 'PUT', `/zones/dmz/pools/rev${i}`, { ranges: [`10.7.10${i}.0/24`], network: `rev${i}` });
      for (const hostname of ['10', '10.0', '10.0.2']) {
        const a = await attack('POST', `/zones/dmz/pools/rev${i}/allocations`, { vm: `evil-rev${i}`, name: hostname, hostname });
        expect([201, 400], JSON.stringify(a)).toContain(a.status);
        await unchanged(`hostname ${hostname} in domain ${domain}`);
      }
    }
  });

  it('4b: a pool in a dmz network carrying its own domain of zone other gets it neither now nor when moved out', async () => {
    const r = await attack('PUT', '/zones/dmz/pools/inner', { ranges: ['10.4.0.128/25'], network: 'aaa', dns: { domain: OTHER_ZONE } });
    // Either refused at once, or the pool's own domain is inert while it is in the network ...
    expect([201, 400, 409], JSON.stringify(r)).toContain(r.status);
    await unchanged('a pool in a network with its own domain of zone other');
    if (r.status === 201) {
      await tryIt(201, 'POST', '/zones/dmz/pools/inner/allocations', { vm: 'evil-4', hostname: 'db1' });
      // ... and moving it out of the network must not make the domain its own.
      const out = await attack('PATCH', '/zones/dmz/pools/inner', { network: null });
      expect([400, 409], JSON.stringify(out)).toContain(out.status);
      await unchanged('moving the pool out of its network');
    }
  });

  it('5: a dmz pool spanning 10.0.0.1..10.255.255.254 and the victim MAC in dmz merge nothing and drop nothing', async () => {
    await tryIt(201, 'PUT', '/zones/dmz/pools/wide', { ranges: ['10.0.0.1', '10.255.255.254'] });
    await tryIt(201, 'POST', '/zones/dmz/pools/wide/allocations', { vm: 'evil-5', address: '10.0.0.1', mac: VICTIM_MAC });
    // The victim's MAC in dmz's own network: a reservation of that network only.
    await tryIt(201, 'POST', '/zones/dmz/pools/web/allocations', { vm: 'evil-5', name: 'eth1', mac: VICTIM_MAC });
    // Anything with addresses in 10.2.0.0/24: refused.
    await tryIt([409, 'NetworkOverlap'], 'PUT', '/zones/dmz/networks/big', { cidr: '10.0.0.0/8' });
    await tryIt([409, 'NetworkOverlap'], 'PUT', '/zones/dmz/networks/half', { cidr: '10.2.0.0/25' });
    await tryIt(409, 'PUT', '/zones/dmz/pools/big', { ranges: ['10.0.0.0/8'] });
    await tryIt(409, 'PUT', '/zones/dmz/pools/one', { ranges: [DB1] });
    await tryIt(409, 'PATCH', '/zones/dmz/pools/wide', { addRanges: ['10.2.0.128/25'] });
    await tryIt(201, 'PUT', '/zones/dmz/networks/spare', { cidr: '10.8.0.0/24' });
    await tryIt([409, 'NetworkOverlap'], 'PATCH', '/zones/dmz/networks/spare', { cidr: '10.2.0.0/16' });
    // The wide pool is in no network: not exported, so nothing of it reaches a DHCP server.
    const kea = (await asAdmin('GET', '/dhcp', undefined, { format: 'kea' })).body;
    expect(kea['user-context'].ipam.notExported).toContainEqual({ pool: 'dmz/wide', reason: 'in no network' });
  });

  it("networks under zone other's path: 403 for every method", async () => {
    for (const n of ['db', 'new']) {
      await tryIt(403, 'PUT', `/zones/other/networks/${n}`, { cidr: '10.2.0.0/24', gateway: '10.2.0.254', dns: { domain: OTHER_ZONE } });
      await tryIt(403, 'PATCH', `/zones/other/networks/${n}`, { gateway: '10.2.0.254', dnsServers: ['10.3.0.53'] });
      await tryIt(403, 'DELETE', `/zones/other/networks/${n}`);
      await tryIt(403, 'GET', `/zones/other/networks/${n}`);
    }
    await tryIt(403, 'PATCH', '/zones/other/pools/db', { network: null });
    await tryIt(403, 'POST', '/zones/other/pools/db/allocations', { vm: 'evil', mac: '52:54:00:00:66:66' });
  });

  it("a dmz pool naming other's network is not in it", async () => {
    // dmz has no network db: the name means dmz/db, which does not exist (the answer names zone dmz only).
    const r = await tryIt([400, 'InvalidInput'], 'PUT', '/zones/dmz/pools/sneak', { ranges: ['10.2.0.200-10.2.0.210'], network: 'db' });
    expect(r.body.detail).toBe('zone dmz of cloud c has no network db');
    await tryIt([400, 'InvalidInput'], 'PATCH', '/zones/dmz/pools/web', { network: 'db' });
    // Once dmz has a network called db, that one is meant; other's addresses are outside it.
    await tryIt(201, 'PUT', '/zones/dmz/networks/db', { cidr: '10.6.0.0/24' });
    await tryIt(400, 'PUT', '/zones/dmz/pools/sneak', { ranges: ['10.2.0.200-10.2.0.210'], network: 'db' });
    await tryIt(201, 'PUT', '/zones/dmz/pools/sneak', { ranges: ['10.6.0.0/24'], network: 'db' });
    await tryIt(201, 'POST', '/zones/dmz/pools/sneak/allocations', { vm: 'db1', mac: VICTIM_MAC, hostname: 'db1' });
  });

  it("PATCH of a dmz allocation to db1's MAC is harmless; to db1's or ns1's name, refused; other's address is 404", async () => {
    // (in network aaa: dmz/web holds the victim's MAC already, test 5)
    const mine = (await tryIt(201, 'POST', '/zones/dmz/pools/aaa/allocations', { vm: 'evil-6', hostname: 'evil6' })).body.address as string;
    await tryIt(200, 'PATCH', `/zones/dmz/addresses/${mine}`, { mac: VICTIM_MAC.toUpperCase().replaceAll(':', '-') });
    for (const hostname of [`db1.${OTHER_ZONE}`, `ns1.${OTHER_ZONE}`, `DB1.${OTHER_ZONE}.`]) {
      await tryIt([400, 'HostnameOutsideDomain'], 'PATCH', `/zones/dmz/addresses/${mine}`, { hostname });
    }
    await tryIt(200, 'PATCH', `/zones/dmz/addresses/${mine}`, { hostname: 'db1' });
    // A second dmz allocation with the same MAC in the same (dmz) network: 409; the victim's network is another scope.
    await tryIt([409, 'MacTaken'], 'POST', '/zones/dmz/pools/aaa/allocations', { vm: 'evil-7', mac: VICTIM_MAC });
    for (const [method, body] of [['GET'], ['PATCH', { mac: '52:54:00:00:66:66', hostname: 'pwned' }], ['DELETE']] as const) {
      const r = await tryIt(404, method, `/zones/dmz/addresses/${DB1}`, body, method === 'DELETE' ? { vm: 'db1' } : undefined);
      const free = await attack(method, '/zones/dmz/addresses/10.3.0.250', body, method === 'DELETE' ? { vm: 'db1' } : undefined);
      expect(JSON.stringify(r.body).replaceAll(DB1, 'X')).toBe(JSON.stringify(free.body).replaceAll('10.3.0.250', 'X'));
    }
  });

  it("an environment of dmz names no host of other.example.com, whatever its slots' hostnames say", async () => {
    for (const slot of [{ hostname: `db1.${OTHER_ZONE}` }, { hostname: `ns1.${OTHER_ZONE}.` }, { count: 2, hostname: `db%index%.${OTHER_ZONE}` }, { count: 2, hostname: `ns1.${OTHER_ZONE}` }]) {
      const r = await tryIt([400, 'InvalidInput'], 'PUT', '/zones/dmz/environments/env', { slots: { web: { pool: 'web', vm: 'evil-env', ...slot } } });
      expect(r.body.details).toEqual({ slot: 'web', cause: 'HostnameOutsideDomain' });
    }
    const ok = await tryIt(201, 'PUT', '/zones/dmz/environments/env', { slots: { web: { pool: 'web', vm: 'evil-env', count: 2, hostname: 'app%index%' } } });
    expect(ok.body.slots.web.addresses).toHaveLength(2);
    await tryIt(200, 'DELETE', '/zones/dmz/environments/env');
  });

  it("cloud-init: db1 through dmz's zone route is 404 exactly like a VM holding nothing; a dmz NIC of a VM called db1 never joins db1's NIC", async () => {
    const nothing = await attack('GET', '/zones/dmz/vms/nobody-at-all/network-config');
    expect(nothing.status).toBe(404);
    // (db1 holds dmz addresses by now: the holder name is the cloud's, the route answers dmz's NICs only.)
    const dmzDb1 = await attack('GET', '/zones/dmz/vms/db1/network-config');
    expect(dmzDb1.status).toBe(200);
    expect(dmzDb1.body).not.toContain('10.2.0.');
    await attack('DELETE', '/zones/dmz/vms/db1/allocations');
    await unchanged('dmz released its addresses of vm db1');
    const db1 = await tryIt(404, 'GET', '/zones/dmz/vms/db1/network-config');
    expect(JSON.stringify(db1.body).replaceAll('db1', 'X')).toBe(JSON.stringify(nothing.body).replaceAll('nobody-at-all', 'X'));
    // The attacker adds NICs to a VM named db1 in dmz: with the victim's MAC, with the victim's interface
    // name and no MAC, with its routes and DNS. db1's own NIC must never carry them.
    await tryIt(201, 'POST', '/zones/dmz/pools/sneak/allocations', { vm: 'db1', name: 'eth0', mac: VICTIM_MAC });
    await tryIt(201, 'POST', '/zones/dmz/pools/web/allocations', { vm: 'db1', name: 'eth0' });
    expect(await cloudNic()).toBe('refused');
    await tryIt(200, 'DELETE', '/zones/dmz/vms/db1/allocations');
    // A NIC of its own (another MAC, another name, a gateway and routes): a second ethernet, db1's untouched and preferred.
    await tryIt(201, 'POST', '/zones/dmz/pools/web/allocations', { vm: 'db1', name: 'eth1', mac: '52:54:00:00:66:01', address: '10.3.0.2' });
    const doc = parseYaml((await asAdmin('GET', '/vms/db1/network-config')).body).network.ethernets;
    expect(Object.keys(doc)).toEqual(['eth0', 'eth1']);
    expect(doc.eth1).toMatchObject({ match: { macaddress: '52:54:00:00:66:01' }, addresses: ['10.3.0.2/24'] });
    await tryIt(200, 'DELETE', '/zones/dmz/vms/db1/allocations');
    await tryIt(403, 'GET', '/vms/db1/network-config');
  });

  it('the cloud-wide routes are not the zone caller’s: 403', async () => {
    const cloudWide: [string, string, unknown?, Record<string, string>?][] = [
      ['GET', '/dns'],
      ['PUT', '/dns', { primaryNs: 'ns1.dmz.example.com', hostmaster: 'h@dmz.example.com' }],
      ['GET', '/dns/zones'],
      ['GET', `/dns/zones/${OTHER_ZONE}`],
      ['GET', '/dhcp', undefined, { format: 'kea' }],
      ['GET', '/dhcp', undefined, { format: 'dnsmasq', zone: 'dmz' }],
      ['GET', '/networks'],
      ['GET', '/networks', undefined, { zone: 'dmz' }],
      ['GET', '/pools'],
      ['GET', '/limits'],
      ['PUT', '/limits', { zones: { other: { maxAddresses: 0 } } }],
      ['GET', `/addresses/${DB1}`],
      ['PATCH', `/addresses/${DB1}`, { mac: '52:54:00:00:66:66' }],
      ['DELETE', `/addresses/${DB1}`, undefined, { vm: 'db1' }],
      ['GET', '/vms/db1/allocations'],
      ['DELETE', '/vms/db1/allocations'],
      ['GET', '/vms/db1/network-config'],
      ['PUT', '/environments/e', { slots: { web: { zone: 'other', pool: 'db', vm: 'db1', address: DB1 } } }],
    ];
    for (const [method, p, body, query] of cloudWide) await tryIt(403, method, p, body, query);
    // An environment of dmz may name only dmz.
    await tryIt([400, 'ZoneMismatch'], 'PUT', '/zones/dmz/environments/e', { slots: { web: { zone: 'other', pool: 'db', vm: 'evil-8' } } });
  });

  it('cloud-init, pure: a NIC never spans zones; a MAC or interface name claimed in two zones is a conflict', () => {
    const net = (name: string, cidr: string, gateway: string) => ({ name, cidr, prefixLength: 24, gateway, dnsServers: [gateway], searchDomains: [], ntpServers: [], routes: [] });
    const at = (zone: string, address: string, extra: Partial<AllocationView>): AllocationView => ({ cloud: C, zone, pool: zone, address, cidr: `${address}/32`, prefixLength: 32, family: 4, vm: 'db1', name: 'default', tags: {}, metadata: {}, allocatedAt: 't', allocatedBy: 'p', version: 1, ...extra });
    const victim = at('other', DB1, { name: 'eth0', mac: VICTIM_MAC, network: net('db', '10.2.0.0/24', '10.2.0.1') });
    const alone = networkConfig([victim]).document.network.ethernets;
    const dmz = net('web', '10.3.0.0/24', '10.3.0.1');
    for (const evil of [at('dmz', '10.3.0.9', { mac: VICTIM_MAC.toUpperCase(), network: { ...dmz, routes: [{ to: '10.2.0.0/24', via: '10.3.0.1' }] } }), at('dmz', '10.3.0.9', { name: 'eth0', network: dmz }), at('dmz', '10.3.0.9', { name: 'eth0', mac: '52:54:00:00:66:01', network: dmz })]) {
      expect(() => networkConfig([victim, evil]), JSON.stringify(evil)).toThrow(expect.objectContaining({ reason: 'NicConflict' }));
    }
    const both = networkConfig([victim, at('dmz', '10.3.0.9', { name: 'eth1', mac: '52:54:00:00:66:01', network: dmz })]).document.network.ethernets;
    expect({ ...both.eth0, routes: [{ to: 'default', via: '10.2.0.1' }] }).toEqual(alone.eth0);
    // Within one zone, a MAC in two networks is still one NIC (dual stack, or two networks on one port).
    const one = networkConfig([victim, at('other', '10.2.1.5', { mac: VICTIM_MAC, network: net('db2', '10.2.1.0/24', '10.2.1.1') })]).document.network.ethernets;
    expect(Object.keys(one)).toEqual(['eth0']);
    expect(one.eth0!.addresses).toEqual([`${DB1}/24`, '10.2.1.5/24']);
  });

  it('whole cloud: no zone file but other’s names a host of other.example.com, no DHCP entry of another zone reaches 10.2.0.0/24', async () => {
    const zones = (await asAdmin('GET', '/dns/zones')).body.items as { name: string }[];
    expect(zones.map((z) => z.name)).toEqual(expect.arrayContaining([OTHER_ZONE, OTHER_REVERSE, 'dmz.example.com', 'aaa.example.com']));
    for (const z of zones) {
      if (z.name === OTHER_ZONE || z.name === OTHER_REVERSE) continue;
      // SOA and NS name the cloud's name server, as in every zone; no other record may name or point into other.example.com.
      const rs = (await records(z.name, await zoneText(z.name))).filter((l) => !/ IN (SOA|NS) /.test(l));
      for (const l of rs) expect(l, z.name).not.toMatch(/other\.example\.com\.|\b10\.2\.0\.\d+$/);
    }
    const kea = (await asAdmin('GET', '/dhcp', undefined, { format: 'kea' })).body;
    for (const s of kea.subnet4) {
      if (s['user-context'].ipam.zone === 'other') continue;
      expect(s.subnet).not.toMatch(/^10\.(0|2)\.0\.0\/(8|16|2\d)$/);
      for (const r of s.reservations) expect(r['ip-address']).not.toMatch(/^10\.2\.0\./);
    }
    const dnsmasq = (await asAdmin('GET', '/dhcp', undefined, { format: 'dnsmasq' })).body as string;
    expect(dnsmasq.split('\n').filter((l) => l.startsWith('dhcp-host=') && l.includes(',10.2.0.'))).toEqual([`dhcp-host=${VICTIM_MAC},${DB1},db1.${OTHER_ZONE}`]);
    await unchanged('the end');
  });
});
