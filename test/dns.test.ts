/**
 * DNS zone files, checked by the real BIND tools: every zone passes named-checkzone, and a real
 * named serving them answers every forward (A/AAAA) and reverse (PTR) query. The routes are
 * exercised in process (Router) and over HTTP through the local service.
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
import { collect, listZones, zoneFile } from '../lib/integrations/dns/zones.js';
import { parseReverseZone, reverseName } from '../lib/integrations/dns/names.js';
import type { Ipam } from '../lib/engine/ipam.js';
import { Environments } from '../lib/engine/environments.js';
import { IpamError } from '../lib/core/errors.js';
import { parseAddress } from '../lib/core/ip.js';
import { tool } from './tools.js';
import { startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, freshIpam } from './support.js';

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

const CLOUD = 'c1';
const V6_NET = 'fd00:1:2:3::/120';

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

beforeAll(async () => {
  let store;
  ({ ipam, store } = await freshIpam());
  environments = new Environments(ipam, store);
  await ipam.createPool(CLOUD, 'z1', 'web', { ranges: ['10.20.0.0/23'], dns: { domain: 'Prod.Example.com' } }, ctx);
  await ipam.createPool(CLOUD, 'z1', 'db', { ranges: ['10.30.0.0/24'], dns: { domain: 'example.com' } }, ctx);
  await ipam.createPool(CLOUD, 'z2', 'v6', { ranges: [V6_NET], dns: { domain: 'v6.example.net' } }, ctx);
  await ipam.createPool(CLOUD, 'z2', 'nodns', { ranges: ['10.40.0.0/24'] }, ctx);

  await alloc('z1', 'web', 'vm-web1', '10.20.0.10', 'web1', { mac: '52:54:00:00:00:01' });
  await alloc('z1', 'web', 'vm-web2', '10.20.1.20', 'WEB2');
  await alloc('z1', 'web', 'vm-api', '10.20.0.11', 'api.prod.example.com');
  await alloc('z1', 'web', 'vm-mail', '10.20.0.12', 'mail.example.com.');
  await alloc('z1', 'db', 'vm-x', '10.30.0.5', 'x.other.org');
  await alloc('z1', 'db', 'vm-db1', '10.30.0.6', 'db1');
  await alloc('z1', 'db', 'vm-anon', '10.30.0.7');
  await alloc('z1', 'db', 'vm-block', '10.30.0.32', 'blk', { prefixLength: 28 });
  await alloc('z1', 'db', 'vm-ns1', '10.30.0.53', 'ns1');
  await alloc('z2', 'v6', 'vm-h6', 'fd00:1:2:3::5', 'h6');
  await alloc('z2', 'v6', 'vm-api6', 'fd00:1:2:3::6', 'api.prod.example.com');
  await alloc('z2', 'nodns', 'vm-lonely', '10.40.0.5', 'lonely');
  await alloc('z2', 'nodns', 'vm-svc', '10.40.0.6', 'svc.v6.example.net');
  named.push(
    { fqdn: 'web1.prod.example.com', address: '10.20.0.10' },
    { fqdn: 'web2.prod.example.com', address: '10.20.1.20' },
    { fqdn: 'api.prod.example.com', address: '10.20.0.11' },
    { fqdn: 'mail.example.com', address: '10.20.0.12' },
    { fqdn: 'db1.example.com', address: '10.30.0.6' },
    { fqdn: 'ns1.example.com', address: '10.30.0.53' },
    { fqdn: 'h6.v6.example.net', address: 'fd00:1:2:3::5' },
    { fqdn: 'api.prod.example.com', address: 'fd00:1:2:3::6' },
    { fqdn: 'svc.v6.example.net', address: '10.40.0.6' },
  );
});

const V6_ZONE = '3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa';

describe('zone model', () => {
  it('lists forward zones (every pool domain) and reverse zones (/24, /64) with record counts', async () => {
    const zones = await listZones(ipam, CLOUD);
    expect(zones).toEqual([
      { name: 'example.com', kind: 'forward', records: 3 }, // mail, db1, ns1
      { name: 'prod.example.com', kind: 'forward', records: 4 }, // web1, web2, api (A), api (AAAA)
      { name: 'v6.example.net', kind: 'forward', records: 2 }, // h6, svc
      { name: '0.20.10.in-addr.arpa', kind: 'reverse', records: 3 },
      { name: '1.20.10.in-addr.arpa', kind: 'reverse', records: 1 },
      { name: '0.30.10.in-addr.arpa', kind: 'reverse', records: 3 }, // x.other.org, db1, ns1 (no block, no nameless)
      { name: '0.40.10.in-addr.arpa', kind: 'reverse', records: 1 }, // svc (lonely has no domain)
      { name: V6_ZONE, kind: 'reverse', records: 2 },
    ]);
  });

  it('names reverse zones at /24 and /64 boundaries', () => {
    expect(reverseName(4, parseAddress('10.20.0.10').value)).toEqual({ zone: '0.20.10.in-addr.arpa', owner: '10' });
    expect(reverseName(6, parseAddress('fd00:1:2:3::5').value)).toEqual({ zone: V6_ZONE, owner: '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0' });
    expect(parseReverseZone('0.20.10.in-addr.arpa')).toMatchObject({ family: 4, start: parseAddress('10.20.0.0').value });
    expect(parseReverseZone('00.20.10.in-addr.arpa')).toBeUndefined();
    expect(parseReverseZone('20.10.in-addr.arpa')).toBeUndefined();
  });

  it('writes $ORIGIN, $TTL, SOA and NS, lowercase, and only the zone’s own records', async () => {
    const text = await collect(zoneFile(ipam, CLOUD, 'PROD.example.com.'));
    const serial = await ipam.changeClock(CLOUD);
    expect(text).toContain('$ORIGIN prod.example.com.\n$TTL 300\n');
    expect(text).toContain(`@\tIN\tSOA\tns1.example.com. hostmaster.example.com. ${serial} 3600 600 1209600 300\n`);
    expect(text).toContain('@\tIN\tNS\tns1.example.com.\n');
    expect(text).toContain('web2\tIN\tA\t10.20.1.20\n');
    expect(text).toContain('api\tIN\tAAAA\tfd00:1:2:3::6\n');
    expect(text).not.toContain('mail');
    const rev = await collect(zoneFile(ipam, CLOUD, '0.30.10.in-addr.arpa'));
    expect(rev).toContain('5\tIN\tPTR\tx.other.org.\n');
    expect(rev).not.toMatch(/^(7|32)\t/m);
  });

  it('answers ZoneNotFound for zones the cloud does not have', async () => {
    for (const z of ['nope.example.com', '9.9.10.in-addr.arpa', '0.41.10.in-addr.arpa', 'other.org']) {
      const e = await collect(zoneFile(ipam, CLOUD, z)).catch((x) => x);
      expect(e).toBeInstanceOf(IpamError);
      expect(e.reason).toBe('ZoneNotFound');
    }
  });

  it('gives an in-zone name server without an address a placeholder, configured addresses otherwise', async () => {
    const placeholder = await collect(zoneFile(ipam, CLOUD, 'example.com', { config: { primaryNs: 'ns9.example.com' } }));
    expect(placeholder).toContain('ns9\tIN\tA\t127.0.0.1\n');
    expect(placeholder).toContain('PLACEHOLDER');
    const configured = await collect(zoneFile(ipam, CLOUD, 'example.com', { config: { primaryNs: 'ns9.example.com', secondaryNs: ['ns.other.org'], primaryNsAddresses: ['192.0.2.53', '2001:db8::53'], hostmaster: 'dns.admin@example.com' } }));
    expect(configured).toContain('ns9\tIN\tA\t192.0.2.53\n');
    expect(configured).toContain('ns9\tIN\tAAAA\t2001:db8::53\n');
    expect(configured).toContain('@\tIN\tNS\tns.other.org.\n');
    expect(configured).toContain('ns9.example.com. dns\\.admin.example.com. ');
    expect(configured).not.toContain('PLACEHOLDER');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dns-ns-'));
    for (const [i, text] of [placeholder, configured].entries()) {
      const f = path.join(dir, `z${i}`);
      writeFileSync(f, text);
      await expect(exec(tool('named-checkzone', 'bind9-utils'), ['example.com', f])).resolves.toBeDefined();
    }
  });
});

describe('zone files served by a real named', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let port: number;
  let log = '';

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('passes named-checkzone for every zone', async () => {
    const checkzone = tool('named-checkzone', 'bind9-utils');
    dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dns-'));
    const zones = await listZones(ipam, CLOUD);
    for (const z of zones) {
      const text = await collect(zoneFile(ipam, CLOUD, z.name));
      const file = path.join(dir, `${z.name}.zone`);
      writeFileSync(file, text);
      const r = await exec(checkzone, ['-k', 'fail', '-n', 'fail', '-i', 'local', z.name, file]).catch((e) => e);
      expect(r.code ?? 0, `named-checkzone ${z.name}:\n${r.stdout}${r.stderr}\n${text}`).toBe(0);
      expect(r.stdout).toContain('OK');
    }
  });

  it('answers A, AAAA and PTR for every named allocation', async () => {
    const namedBin = tool('named', 'bind9');
    const dig = tool('dig', 'bind9-dnsutils');
    const zones = await listZones(ipam, CLOUD);
    port = await freePort();
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
        ...zones.map((z) => `zone "${z.name}" { type primary; file "${dir}/${z.name}.zone"; };`),
        '',
      ].join('\n'),
    );
    await exec(tool('named-checkconf', 'bind9-utils'), [conf]);
    const args = ['-g', '-c', conf, ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
    proc = spawn(namedBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const q = async (name: string, type: string) => (await exec(dig, ['@127.0.0.1', '-p', String(port), '+short', '+norec', '+time=2', '+tries=1', name, type])).stdout.trim().split('\n').filter(Boolean);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`named exited with ${proc.exitCode}:\n${log}`);
      const soa = await q('example.com', 'SOA').catch(() => []);
      if (soa.length) break;
      if (Date.now() > deadline) throw new Error(`named did not answer within 20 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const e of named) {
      const fam = parseAddress(e.address).family;
      expect(await q(e.fqdn, fam === 4 ? 'A' : 'AAAA'), `${e.fqdn} ${fam === 4 ? 'A' : 'AAAA'}`).toContain(e.address);
      const ptr = (await exec(dig, ['@127.0.0.1', '-p', String(port), '+short', '+norec', '-x', e.address])).stdout.trim().split('\n');
      expect(ptr, `PTR ${e.address}`).toEqual([`${e.fqdn}.`]);
    }
    const xptr = (await exec(dig, ['@127.0.0.1', '-p', String(port), '+short', '+norec', '-x', '10.30.0.5'])).stdout.trim();
    expect(xptr).toBe('x.other.org.');
    // No records for the nameless allocation, the block, or a label in a pool without a domain.
    for (const a of ['10.30.0.7', '10.30.0.32', '10.40.0.5']) expect((await exec(dig, ['@127.0.0.1', '-p', String(port), '+short', '+norec', '-x', a])).stdout.trim()).toBe('');
    expect(await q('blk.example.com', 'A')).toEqual([]);
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
  const call = (p: string, query: Record<string, string> = {}): Promise<ApiResponse> =>
    router.handle({ ipam, environments }, { method: 'GET', path: p, query, headers: {}, body: null, principal: 'test', requestId: 'r1' });

  it('lists zones, serves one as text/dns, 404s an unknown zone, 400s a bad name', async () => {
    const list = await call(`/v1/clouds/${CLOUD}/dns/zones`);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).items.map((z: { name: string }) => z.name)).toContain('0.20.10.in-addr.arpa');
    const zone = await call(`/v1/clouds/${CLOUD}/dns/zones/prod.example.com`);
    expect(zone.status).toBe(200);
    expect(zone.headers['content-type']).toBe('text/dns');
    expect(zone.body).toContain('web1\tIN\tA\t10.20.0.10');
    const missing = await call(`/v1/clouds/${CLOUD}/dns/zones/nope.example.com`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ reason: 'ZoneNotFound' });
    expect((await call(`/v1/clouds/${CLOUD}/dns/zones/bad_name`)).status).toBe(400);
    expect((await call(`/v1/clouds/nocloud/dns/zones`)).body).toBe('{"items":[]}');
  });

  it('serves DHCP reservations as kea JSON and dnsmasq text, 400s a bad format', async () => {
    const kea = await call(`/v1/clouds/${CLOUD}/dhcp`, { format: 'kea' });
    expect(kea.headers['content-type']).toBe('application/json');
    // These pools are in no network: DHCP serves networks only (test/dhcp.test.ts), and names them as not exported.
    expect(JSON.parse(kea.body)).toMatchObject({ subnet4: [], 'user-context': { ipam: { notExported: expect.arrayContaining([{ pool: 'z1/web', reason: 'in no network' }]) } } });
    const dm = await call(`/v1/clouds/${CLOUD}/dhcp`, { format: 'dnsmasq', zone: 'z1' });
    expect(dm.headers['content-type']).toMatch(/^text\/plain/);
    expect(dm.body).toContain('# not exported: pool z1/web (in no network)\n');
    expect((await call(`/v1/clouds/${CLOUD}/dhcp`, { format: 'bind' })).status).toBe(400);
  });
});

describe('routes over HTTP through the local service', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_EXPORT_INTERVAL_SECONDS: '0' });
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
});
