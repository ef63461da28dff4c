/**
 * Zone isolation over real HTTP with real SigV4 (issue 12, part A): a zone pipeline whose `allow` list is
 * generated from lib/auth/roles.ts (the same description the CDK grants use) tries every route of the
 * route table against another zone, and runs its whole lifecycle in its own zone; errors name nothing of
 * other zones; per-cloud zone limits.
 */
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../lib/api/lambda.js';
import { allowPatterns, networkAdmin, zonePipeline } from '../lib/auth/roles.js';
import { ApiError, type IpamClient } from '../lib/client/client.js';
import { ADMIN, sendSigned, signRequest, startService, type RunningService } from './service.js';
import { ddbEndpoint } from './support.js';

const C = 'zc';
const ZONE_A = { accessKeyId: 'AKIAZONEAPIPELINE003', secretAccessKey: 'zone-a-secret-0123456789abcdefghijklmnopq', principal: 'arn:aws:iam::111122223333:role/zone-a-pipeline', allow: allowPatterns(zonePipeline(C, 'a')) };
const NET = { accessKeyId: 'AKIANETWORKADMIN0004', secretAccessKey: 'net-secret-0123456789abcdefghijklmnopqrstu', principal: 'arn:aws:iam::111122223333:role/network-admin', allow: allowPatterns(networkAdmin(C)) };
const NET_A = { accessKeyId: 'AKIANETWORKADMINA005', secretAccessKey: 'neta-secret-0123456789abcdefghijklmnopqrst', principal: 'arn:aws:iam::111122223333:role/network-admin-a', allow: allowPatterns(networkAdmin(C, 'a')) };

let svc: RunningService;
let admin: IpamClient;
/** What zone b holds: the matrix must neither reveal nor change any of it. */
const B = { vmAddress: '', vipAddress: '', block: '', cloudEnvAddress: '', zoneEnvAddress: '' };
const SECRETS = ['secret-b.b.example.com', 'b-tag-secret', '52:54:00:66:66:66', '"zone":"b"', '10.66.9.53', 'ntp-secret-b.example.com'];

const statusOf = (p: Promise<unknown>) => p.then(() => 200, (e) => (e instanceof ApiError ? e.status : Promise.reject(e)));
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => e);

async function send(caller: { accessKeyId: string; secretAccessKey: string }, method: string, p: string, body?: unknown, query?: Record<string, string>) {
  const req = await signRequest(svc, method, p, { caller, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(query ? { query } : {}) });
  return sendSigned(svc, req);
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-zone-'));
  const callersFile = path.join(dir, 'callers.json');
  writeFileSync(callersFile, JSON.stringify([ADMIN, ZONE_A, NET, NET_A]), { mode: 0o600 });
  svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_CALLERS_FILE: callersFile }, { dataDir: dir });
  admin = svc.client();
  await admin.createPool(C, 'a', 'pa', { ranges: ['10.65.0.0/24'] });
  // Zone b's network: its pool lives in it, so zone b's allocations carry it (gateway, DNS, NTP, domain).
  await admin.createNetwork(C, 'b', 'bnet', { cidr: '10.66.0.0/16', gateway: '10.66.0.1', dnsServers: ['10.66.9.53'], ntpServers: ['ntp-secret-b.example.com'], dns: { domain: 'b.example.com' } });
  await admin.createPool(C, 'b', 'pb', { ranges: ['10.66.0.0/24'], network: 'bnet' });
  B.vmAddress = (await admin.allocate(C, 'b', 'pb', { vm: 'shared-vm', hostname: 'secret-b.b.example.com', mac: '52:54:00:66:66:66', tags: { t: 'b-tag-secret' } })).allocation.address;
  B.vipAddress = (await admin.allocate(C, 'b', 'pb', { vip: 'shared-vip' })).allocation.address;
  B.block = (await admin.allocate(C, 'b', 'pb', { vm: 'shared-vm', name: 'blk', prefixLength: 30 })).allocation.cidr;
  // A cloud-level and a zone-b environment of the same name `shared`: three separate namespaces with zone a's.
  const cloudEnv = await admin.request<any>('PUT', `/v1/clouds/${C}/environments/shared`, { body: { slots: { web: { zone: 'b', pool: 'pb', vm: 'cloud-env-vm' } } } });
  B.cloudEnvAddress = cloudEnv.body.slots.web.addresses[0];
  const zoneEnv = await admin.request<any>('PUT', `/v1/clouds/${C}/zones/b/environments/shared`, { body: { slots: { web: { pool: 'pb', vm: 'zone-env-vm' } } } });
  expect(zoneEnv.status).toBe(201);
  expect(zoneEnv.body).toMatchObject({ environment: 'shared', zone: 'b', slots: { web: { zone: 'b', pool: 'pb' } } });
  B.zoneEnvAddress = zoneEnv.body.slots.web.addresses[0];
  SECRETS.push(B.vipAddress, B.block, B.cloudEnvAddress, B.zoneEnvAddress);
}, 120_000);
afterAll(async () => {
  await svc?.stop();
});

/** Everything of zone b and of the cloud, as the admin sees it. */
async function snapshot() {
  const all = [];
  for await (const a of admin.allAllocations(C, 'b', 'pb')) all.push(a);
  return JSON.stringify({
    pools: await admin.listPools(C),
    networks: await admin.listNetworks(C),
    b: all,
    cloudEnv: (await admin.request('GET', `/v1/clouds/${C}/environments/shared`)).body,
    zoneEnv: (await admin.request('GET', `/v1/clouds/${C}/zones/b/environments/shared`)).body,
    limits: (await admin.request('GET', `/v1/clouds/${C}/limits`)).body,
    dns: (await send(ADMIN, 'GET', `/v1/clouds/${C}/dns`)).body,
  });
}

/** A request body that would do harm if it were let through; a new route with a body must be added here. */
function bodiesFor(method: string, template: string): unknown[] {
  if (!['PUT', 'POST', 'PATCH'].includes(method)) return [undefined];
  if (method === 'PUT' && template.endsWith('/pools/{pool}')) return [{ ranges: ['10.66.1.0/24'] }];
  if (method === 'PATCH' && template.endsWith('/pools/{pool}')) return [{ addRanges: ['10.66.2.0/24'], tags: { pwn: '1' } }, { network: 'bnet' }];
  if (method === 'PUT' && template.endsWith('/networks/{network}')) return [{ cidr: '10.66.0.0/16', dns: { domain: 'b.example.com' } }, { cidr: '10.67.0.0/24', dns: { domain: 'x.b.example.com' } }];
  if (method === 'PATCH' && template.endsWith('/networks/{network}')) return [{ dnsServers: ['6.6.6.6'], gateway: '10.66.0.254', dns: { domain: 'pwned.example.com' } }];
  if (method === 'POST' && template.endsWith('/pools/{pool}/allocations')) return [{ vm: 'attacker' }, { vm: 'attacker', address: '10.66.0.200' }];
  // Allocation by zone: every body must fail in zone a too (its pool pa has room): zone b's pool by name or by
  // its network's tag, an address of zone b, a family zone a has no pool of; zone b's MAC as a decoy.
  if (method === 'POST' && template.endsWith('/zones/{zone}/allocations')) return [{ vm: 'attacker', pools: ['pb'] }, { vm: 'attacker', pools: { tags: { net: 'bnet' } } }, { vm: 'attacker', address: '10.66.0.200' }, { vm: 'attacker', family: 6, mac: '52:54:00:66:66:66' }];
  if (method === 'PATCH' && template.endsWith('/addresses/{address}')) return [{ hostname: 'pwned.example.com', tags: { pwn: '1' } }];
  if (method === 'PUT' && template.endsWith('/environments/{env}')) return [{ slots: { web: { zone: 'b', pool: 'pb', vm: 'attacker' } } }, { slots: { web: { pool: 'pb', vm: 'attacker' } } }, { slots: { web: { zone: 'b', vm: 'attacker' } } }];
  if (method === 'PUT' && template.endsWith('/limits')) return [{ zones: { a: { maxAddresses: '999999999' }, b: { maxAddresses: 0 } } }];
  if (method === 'PUT' && template.endsWith('/dns')) return [{ primaryNs: 'ns1.a.example.com', primaryNsAddresses: ['10.65.0.53'], hostmaster: 'pwned@a.example.com' }];
  throw new Error(`zone matrix: no hostile body for ${method} ${template}; add one`);
}

/** The route's path with zone b's objects; `{zone}` as given. A new kind of path parameter must be added here. */
function fill(template: string, zone: string, address: string): string {
  const values: Record<string, string> = { cloud: C, zone, pool: 'pb', network: 'bnet', address, vm: 'shared-vm', vip: 'shared-vip', env: 'shared', zoneName: 'b.example.com' };
  return template.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in values)) throw new Error(`zone matrix: no value for path parameter {${k}} of ${template}; add one`);
    return encodeURIComponent(values[k]!);
  });
}

describe('a zone pipeline (allow generated from lib/auth/roles.ts)', () => {
  it('reaches nothing of another zone through any route of the table, and changes nothing', async () => {
    const before = await snapshot();
    let tried = 0;
    const ownZoneOutcomes: string[] = [];
    for (const route of routes) {
      const zoned = route.path.includes('{zone}');
      for (const zone of zoned ? ['a', 'b'] : ['-']) {
        for (const address of route.path.includes('{address}') ? [B.vmAddress, B.block.split('/')[0]!, B.zoneEnvAddress] : ['-']) {
          const queries: (Record<string, string> | undefined)[] = [undefined];
          if (route.method === 'DELETE' && route.path.endsWith('/addresses/{address}')) queries.push({ vm: 'shared-vm' }, { vm: 'wrong-guess' });
          if (!zoned && route.method === 'GET') queries.push({ zone: 'b' });
          for (const body of bodiesFor(route.method, route.path)) {
            for (const query of queries) {
              const p = fill(route.path, zone, address);
              const r = await send(ZONE_A, route.method, p, body, query);
              tried++;
              const what = `${route.method} ${p} ${JSON.stringify(query ?? {})} ${JSON.stringify(body ?? '')} -> ${r.status} ${JSON.stringify(r.body)}`;
              const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? '');
              // (an address the caller sent may be echoed back; nothing else of zone b may appear)
              for (const s of SECRETS) if (s !== address) expect(text, what).not.toContain(s);
              if (zone !== 'a') {
                // Another zone's path or a cloud-level route: the grant does not reach it.
                expect(r.status, what).toBe(403);
                continue;
              }
              ownZoneOutcomes.push(`${r.status} ${route.method} ${route.path}`);
              if (r.status < 300) {
                // Only the holder routes may answer 2xx, with nothing of zone b in them.
                expect(route.path, what).toMatch(/\/(vms|vips)\/\{(vm|vip)\}\/allocations$/);
                expect(r.body.items ?? r.body.released, what).toEqual([]);
              } else expect([400, 403, 404, 409], what).toContain(r.status);
            }
          }
        }
      }
    }
    expect(await snapshot()).toBe(before);
    // Every route was tried (the table is iterated, so a new route is covered without touching this test).
    expect(tried).toBeGreaterThan(routes.length);
    // Under its own zone's path, another zone's address is 404 on every address route, like a free one.
    for (const m of ['GET', 'PATCH', 'DELETE']) expect(ownZoneOutcomes).toContain(`404 ${m} /v1/clouds/{cloud}/zones/{zone}/addresses/{address}`);
    expect(ownZoneOutcomes).not.toContain('409 DELETE /v1/clouds/{cloud}/zones/{zone}/addresses/{address}');
    // A VM that holds addresses only in zone b has no network-config on zone a's route: 404, as one holding nothing.
    expect(ownZoneOutcomes).toContain('404 GET /v1/clouds/{cloud}/zones/{zone}/vms/{vm}/network-config');
  }, 240_000);

  it('runs its whole lifecycle in its own zone, without topology changes', async () => {
    const a = svc.client(ZONE_A);
    expect(await statusOf(a.createPool(C, 'a', 'mine', { ranges: ['10.65.9.0/24'] }))).toBe(403);
    expect(await statusOf(a.updatePool(C, 'a', 'pa', { addRanges: ['10.65.1.0/24'] }))).toBe(403);
    expect(await statusOf(a.deletePool(C, 'a', 'pa'))).toBe(403);
    expect((await a.getPool(C, 'a', 'pa')).name).toBe('pa');
    // Its zone's networks: readable (what its allocations carry), not changeable; the cloud's list is not its.
    await admin.createNetwork(C, 'a', 'anet', { cidr: '10.65.0.0/24', gateway: '10.65.0.1' });
    expect(await a.getNetwork(C, 'a', 'anet')).toMatchObject({ zone: 'a', cidr: '10.65.0.0/24' });
    expect(await statusOf(a.createNetwork(C, 'a', 'mine', { cidr: '10.65.8.0/24' }))).toBe(403);
    expect(await statusOf(a.updateNetwork(C, 'a', 'anet', { gateway: '10.65.0.254' }))).toBe(403);
    expect(await statusOf(a.deleteNetwork(C, 'a', 'anet'))).toBe(403);
    expect(await statusOf(a.listNetworks(C, 'a'))).toBe(403);
    expect(await statusOf(a.updatePool(C, 'a', 'pa', { network: 'anet' }))).toBe(403);
    await admin.deleteNetwork(C, 'a', 'anet');
    const got = await a.allocate(C, 'a', 'pa', { vm: 'app-1', hostname: 'app-1' });
    expect(got.created).toBe(true);
    const addr = got.allocation.address;
    expect((await a.listAllocations(C, 'a', 'pa')).items.map((x) => x.address)).toContain(addr);
    expect(await a.lookup(C, addr, 'a')).toMatchObject({ address: addr, vm: 'app-1', zone: 'a' });
    expect(await statusOf(a.lookup(C, addr))).toBe(403); // the cloud route is not its grant
    expect(await a.updateAllocation(C, addr, { mac: '52:54:00:00:00:01' }, 'a')).toMatchObject({ mac: '52:54:00:00:00:01' });
    // The holder guard: a wrong guess is refused without naming the real holder.
    const wrong = await errorOf(a.release(C, addr, { vm: 'guess' }, 'a'));
    expect(wrong).toMatchObject({ status: 409, problem: { reason: 'HolderMismatch' } });
    expect(wrong!.problem.detail).not.toContain('app-1');
    expect(await a.byHolder(C, 'vm', 'app-1', 'a')).toHaveLength(1);
    // cloud-init on its zone's route: app-1's pool is in no network, so nothing to configure (409); the cloud route is not its grant.
    expect(await errorOf(a.networkConfig(C, 'app-1', 'a'))).toMatchObject({ status: 409, problem: { reason: 'NoNetwork' } });
    expect(await statusOf(a.networkConfig(C, 'app-1'))).toBe(403);

    // An environment of zone a named like zone b's and the cloud's: a separate object.
    const envPath = `/v1/clouds/${C}/zones/a/environments/shared`;
    const env = await a.request<any>('PUT', envPath, { body: { slots: { web: { pool: 'pa', vm: 'app-2' }, db: { zone: 'a', pool: 'pa', vip: 'db', count: 2 } } } });
    expect(env.status).toBe(201);
    expect(env.body).toMatchObject({ environment: 'shared', zone: 'a', slots: { web: { zone: 'a', pool: 'pa' }, db: { zone: 'a', count: 2 } } });
    expect((await a.request<any>('GET', envPath)).body).toEqual(env.body);
    expect((await a.request<string>('GET', envPath, { query: { format: 'heat' } })).body).toContain(`web: "${env.body.slots.web.addresses[0]}"`);
    expect((await admin.request<any>('GET', `/v1/clouds/${C}/environments/shared`)).body.slots.web.addresses).toEqual([B.cloudEnvAddress]);
    expect((await admin.request<any>('GET', `/v1/clouds/${C}/zones/b/environments/shared`)).body.slots.web.addresses).toEqual([B.zoneEnvAddress]);
    expect((await a.request<any>('DELETE', envPath)).body.released).toHaveLength(3);
    expect(await statusOf(a.request('GET', envPath))).toBe(404);
    expect(await statusOf(admin.request('GET', `/v1/clouds/${C}/zones/b/environments/shared`))).toBe(200);

    const released = await a.releaseHolder(C, 'vm', 'app-1', 'a');
    expect(released.map((x) => x.address)).toEqual([addr]);
    expect(await statusOf(a.lookup(C, addr, 'a'))).toBe(404);
    const again = await a.allocate(C, 'a', 'pa', { vip: 'v-1' });
    await a.release(C, again.allocation.address, { vip: 'v-1' }, 'a');
    expect(await a.byHolder(C, 'vip', 'v-1', 'a')).toEqual([]);
  }, 120_000);
});

describe('issue 12 regressions', () => {
  it('item 1: another zone’s address is 404 on the zone route, exactly like a free one; the cloud route is not granted', async () => {
    const free = '10.65.0.250';
    const other = await send(ZONE_A, 'DELETE', `/v1/clouds/${C}/zones/a/addresses/${B.vmAddress}`);
    const missing = await send(ZONE_A, 'DELETE', `/v1/clouds/${C}/zones/a/addresses/${free}`);
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body).replaceAll(B.vmAddress, 'X')).toBe(JSON.stringify(missing.body).replaceAll(free, 'X'));
    expect((await send(ZONE_A, 'DELETE', `/v1/clouds/${C}/addresses/${B.vmAddress}`)).status).toBe(403);
    expect((await admin.lookup(C, B.vmAddress)).vm).toBe('shared-vm');
  });

  it('item 1: an environment of a zone may only name that zone; nothing is allocated otherwise', async () => {
    const before = await snapshot();
    const r = await send(ZONE_A, 'PUT', `/v1/clouds/${C}/zones/a/environments/sneak`, { slots: { ok: { pool: 'pa', vm: 's-1' }, web: { zone: 'b', pool: 'pb', vm: 'sneak' } } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ reason: 'ZoneMismatch' });
    expect((await send(ZONE_A, 'PUT', `/v1/clouds/${C}/environments/sneak`, { slots: { web: { zone: 'b', pool: 'pb', vm: 'sneak' } } })).status).toBe(403);
    expect(await snapshot()).toBe(before);
    expect(await svc.client(ZONE_A).byHolder(C, 'vm', 's-1', 'a')).toEqual([]);
  });

  it('item 6: the holder guard never names the holder; overlap names only a pool of the same zone', async () => {
    const guard = await send(ADMIN, 'DELETE', `/v1/clouds/${C}/addresses/${B.vmAddress}`, undefined, { vm: 'wrong' });
    expect(guard).toMatchObject({ status: 409, body: { reason: 'HolderMismatch' } });
    expect(guard.body.detail).not.toContain('shared-vm');
    const netA = svc.client(NET_A);
    const cross = await errorOf(netA.createPool(C, 'a', 'ov', { ranges: ['10.66.0.128/25'] }));
    expect(cross).toMatchObject({ status: 409, problem: { reason: 'Overlap' } });
    expect(cross!.problem.detail).toContain('another zone');
    expect(JSON.stringify(cross!.problem)).not.toMatch(/pb|10\.66\.0\.0\/24|"zone":"b"/);
    // Networks: zone b's subnet and domain cannot be taken, and are not named.
    for (const [spec, reason] of [[{ cidr: '10.66.128.0/24' }, 'NetworkOverlap'], [{ cidr: '10.64.0.0/24', dns: { domain: 'db.b.example.com' } }, 'DomainTaken'], [{ cidr: '10.64.0.0/24', dns: { domain: 'example.com' } }, 'DomainTaken']] as const) {
      const e = await errorOf(netA.createNetwork(C, 'a', 'sneak', spec));
      expect(e, JSON.stringify(spec)).toMatchObject({ status: 409, problem: { reason } });
      expect(e!.problem.detail).toContain('another zone');
      expect(JSON.stringify(e!.problem)).not.toMatch(/bnet|10\.66\.0\.0|"zone":"b"/);
    }
    expect(await errorOf(netA.createPool(C, 'a', 'ov', { ranges: ['10.66.200.0/24'] }))).toMatchObject({ status: 409, problem: { reason: 'NetworkOverlap' } });
    expect(await errorOf(netA.createPool(C, 'a', 'ov', { ranges: ['10.64.0.0/24'], network: 'bnet' }))).toMatchObject({ status: 400 });
    expect(await statusOf(netA.getNetwork(C, 'b', 'bnet'))).toBe(403);
    const same = await errorOf(netA.createPool(C, 'a', 'ov', { ranges: ['10.65.0.0/25'] }));
    expect(same).toMatchObject({ status: 409, problem: { reason: 'Overlap', details: { zone: 'a', pool: 'pa' } } });
    expect(same!.problem.detail).toContain('a/pa');
  });

  it('item 5: a zone pipeline cannot create pools; per-cloud zone limits (default off) stop a zone squatting', async () => {
    const huge = { ranges: Array.from({ length: 4 }, (_, i) => `${20 + i}.0.0.0/8`) };
    expect(await statusOf(svc.client(ZONE_A).createPool(C, 'a', 'squat', huge))).toBe(403);
    const netA = svc.client(NET_A);
    expect((await admin.request('GET', `/v1/clouds/${C}/limits`)).body).toEqual({ zones: {} });
    // Default off: a zone's network admin may claim a lot.
    expect((await netA.createPool(C, 'a', 'squat', huge)).created).toBe(true);
    await netA.deletePool(C, 'a', 'squat');
    // Limits are a cloud-wide admin's: not reachable with a zone's grant.
    expect((await send(NET_A, 'PUT', `/v1/clouds/${C}/limits`, { zones: { a: { maxAddresses: 1 } } })).status).toBe(403);
    expect((await send(ZONE_A, 'PUT', `/v1/clouds/${C}/limits`, { zones: { a: { maxAddresses: 1 } } })).status).toBe(403);
    for (const bad of [{ zones: { A: { maxAddresses: 1 } } }, { zones: { a: { maxAddresses: -1 } } }, { zones: { a: {} } }, { zones: { a: { maxAddresses: 1.5 } } }, { zones: {}, extra: 1 }, { zones: { constructor: { maxAddresses: '01' } } }]) {
      const r = await send(NET, 'PUT', `/v1/clouds/${C}/limits`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await admin.request('GET', `/v1/clouds/${C}/limits`)).body).toEqual({ zones: {} });
    const set = await send(NET, 'PUT', `/v1/clouds/${C}/limits`, { zones: { a: { maxAddresses: 1024 } } });
    expect(set).toMatchObject({ status: 200, body: { zones: { a: { maxAddresses: '1024' } } } });
    // pa spans 256: 1024 more would be 1280.
    const over = await errorOf(netA.createPool(C, 'a', 'p2', { ranges: ['10.67.0.0/22'] }));
    expect(over).toMatchObject({ status: 409, problem: { reason: 'ZoneLimit', details: { zone: 'a', maxAddresses: '1024', wouldSpan: '1280' } } });
    expect(over!.problem.detail).toContain('1024');
    expect(await statusOf(admin.getPool(C, 'a', 'p2'))).toBe(404);
    expect((await netA.createPool(C, 'a', 'p2', { ranges: ['10.67.0.0/23'] })).created).toBe(true); // 768
    expect(await errorOf(netA.updatePool(C, 'a', 'p2', { addRanges: ['10.67.2.0/23'] }))).toMatchObject({ status: 409, problem: { reason: 'ZoneLimit' } });
    expect(await netA.updatePool(C, 'a', 'p2', { addRanges: ['10.67.2.0/24'] })).toMatchObject({ size: '768' }); // exactly 1024
    // Other zones are unaffected; a zone named like an Object.prototype member is an ordinary zone.
    expect((await admin.createPool(C, 'c', 'big', { ranges: ['10.68.0.0/16'] })).created).toBe(true);
    expect((await admin.createPool(C, 'constructor', 'big', { ranges: ['10.69.0.0/16'] })).created).toBe(true);
    // Turning limits off again.
    expect((await send(NET, 'PUT', `/v1/clouds/${C}/limits`, { zones: {} })).body).toEqual({ zones: {} });
    expect((await netA.updatePool(C, 'a', 'p2', { addRanges: ['10.67.4.0/22'] })).size).toBe('1792');
    // The network admin has no allocation lifecycle.
    expect(await statusOf(netA.allocate(C, 'a', 'p2', { vm: 'x' }))).toBe(403);
    expect(await statusOf(svc.client(NET).allocate(C, 'a', 'p2', { vm: 'x' }))).toBe(403);
  }, 120_000);
});
