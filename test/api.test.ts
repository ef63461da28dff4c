/**
 * The v1 API over real HTTP against the running local service, signed by the AWS SDK's
 * SigV4 signer and by curl --aws-sigv4 (an independent implementation).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../lib/client/client.js';
import { ADMIN, DMZ_ONLY, sendSigned, signRequest, startService, type RunningService, type SendOverride, type SignOptions } from './service.js';
import { checkedFetch } from './contract.js';
import { ddbEndpoint } from './support.js';

const exec = promisify(execFile);
let svc: RunningService;

beforeAll(async () => {
  svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
});
afterAll(async () => {
  await svc?.stop();
});

const signed = (method: string, path: string, opts: SignOptions = {}) => signRequest(svc, method, path, opts);
const send = (req: Awaited<ReturnType<typeof signRequest>>, override: SendOverride = {}) => sendSigned(svc, req, override);

async function curl(method: string, path: string, body?: unknown, caller = ADMIN) {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '--aws-sigv4', 'aws:amz:us-east-1:execute-api', '--user', `${caller.accessKeyId}:${caller.secretAccessKey}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  args.push(`${svc.url}${path}`);
  const { stdout } = await exec('curl', args);
  const i = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, i);
  return { status: Number(stdout.slice(i + 1)), body: text ? JSON.parse(text) : undefined };
}

const statusOf = async (p: Promise<unknown>) => p.then(() => 200, (e) => (e instanceof ApiError ? e.status : Promise.reject(e)));

describe('pools over HTTP', () => {
  it('creates (201), repeats (200), conflicts (409), shows, lists, patches and deletes (204)', async () => {
    const c = svc.client();
    const created = await c.request('PUT', '/v1/clouds/c1/zones/web/pools/front', { body: { ranges: ['10.1.0.0/24'], exclude: ['10.1.0.0'], tags: { env: 'prod' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ cloud: 'c1', zone: 'web', name: 'front', size: '255', allocated: '0', free: '255', tags: { env: 'prod' }, createdBy: ADMIN.principal });
    expect(created.body).not.toHaveProperty('uid');
    expect((await c.request('PUT', '/v1/clouds/c1/zones/web/pools/front', { body: { ranges: ['10.1.0.0/24'], exclude: ['10.1.0.0'], tags: { env: 'prod' } } })).status).toBe(200);
    const conflict = await c.request('PUT', '/v1/clouds/c1/zones/web/pools/front', { body: { ranges: ['10.1.0.0/25'] } }).catch((e) => e);
    expect(conflict).toMatchObject({ status: 409, problem: { reason: 'PoolExists', status: 409, title: 'Conflict' } });
    const overlap = await c.request('PUT', '/v1/clouds/c1/zones/db/pools/other', { body: { ranges: ['10.1.0.128/25'] } }).catch((e) => e);
    expect(overlap.status).toBe(409);
    expect(overlap.problem.detail).toContain('another zone'); // names no pool of a zone the caller may not read
    expect(overlap.problem.detail).not.toContain('front');
    expect(await c.getPool('c1', 'web', 'front')).toMatchObject({ ranges: ['10.1.0.0/24'], exclude: ['10.1.0.0'] });
    expect((await c.listPools('c1')).map((p) => p.name)).toEqual(['front']);
    expect(await c.listPools('c1', 'db')).toEqual([]);
    const patched = await c.updatePool('c1', 'web', 'front', { addRanges: ['10.1.1.0/24'], tags: { env: 'staging' } });
    expect(patched).toMatchObject({ size: '511', tags: { env: 'staging' } });
    const a = await c.allocate('c1', 'web', 'front', { vm: 'vm-1', address: '10.1.1.9' });
    const inUse = await c.updatePool('c1', 'web', 'front', { removeRanges: ['10.1.1.0/24'] }).catch((e) => e);
    expect(inUse).toMatchObject({ status: 409, problem: { reason: 'RangeInUse' } });
    expect((await c.request('DELETE', '/v1/clouds/c1/zones/web/pools/front').catch((e) => e)).status).toBe(409);
    await c.release('c1', a.allocation.address);
    const del = await c.request('DELETE', '/v1/clouds/c1/zones/web/pools/front');
    expect(del.status).toBe(204);
    expect(await statusOf(c.getPool('c1', 'web', 'front'))).toBe(404);
  });

  it('refuses mixed families and malformed ranges with 400 problem+json and creates nothing', async () => {
    const c = svc.client();
    for (const body of [{ ranges: ['10.0.0.0/24', '2001:db8::/64'] }, { ranges: ['10.0.0.0/33'] }, { ranges: ['10.0.0.9-10.0.0.1'] }, { ranges: [] }, { ranges: 'x' }, { rnages: ['10.0.0.0/24'] }, { ranges: ['10.0.0.0/24'], prefixLength: -4 }]) {
      const r = await send(await signed('PUT', '/v1/clouds/bad/zones/z/pools/p', { body: JSON.stringify(body) }));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.type).toBe('application/problem+json');
      expect(r.body).toMatchObject({ type: expect.stringMatching(/^urn:ipam:problem:/), title: 'Bad Request', status: 400, detail: expect.any(String) });
    }
    expect(await svc.client().listPools('bad')).toEqual([]);
  });
});

describe('allocations over HTTP', () => {
  beforeAll(async () => {
    await svc.client().createPool('c2', 'app', 'p', { ranges: ['10.2.0.0/28'], dns: { domain: 'app.example.com' } });
  });

  it('allocates (201), repeats (200), looks up, patches, lists and releases (204)', async () => {
    const c = svc.client();
    // the pinned VIP first, so that the random allocation below cannot take its address
    const vip = await c.allocate('c2', 'app', 'p', { vip: 'api-vip', address: '10.2.0.14' });
    expect(vip.allocation.vip).toBe('api-vip');
    const first = await c.request<any>('POST', '/v1/clouds/c2/zones/app/pools/p/allocations', { body: { vm: 'web-1', name: 'eth0', mac: '52:54:00:00:00:01', hostname: 'web-1' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ cloud: 'c2', zone: 'app', pool: 'p', vm: 'web-1', name: 'eth0', mac: '52:54:00:00:00:01', hostname: 'web-1', allocatedBy: ADMIN.principal, cidr: `${first.body.address}/32` });
    const again = await c.request<any>('POST', '/v1/clouds/c2/zones/app/pools/p/allocations', { body: { vm: 'web-1', name: 'eth0' } });
    expect(again.status).toBe(200);
    expect(again.body.address).toBe(first.body.address);
    expect((await c.lookup('c2', first.body.address)).vm).toBe('web-1');
    expect((await c.updateAllocation('c2', first.body.address, { hostname: 'web-one' })).hostname).toBe('web-one');
    const taken = await c.allocate('c2', 'app', 'p', { vm: 'web-2', address: '10.2.0.14' }).catch((e) => e);
    expect(taken).toMatchObject({ status: 409, problem: { reason: 'AddressTaken' } });
    expect(await statusOf(c.allocate('c2', 'app', 'p', { vm: 'web-2', address: '10.9.0.1' }))).toBe(400);
    expect(await statusOf(c.allocate('c2', 'app', 'nope', { vm: 'web-2' }))).toBe(404);
    expect(await statusOf(c.request('POST', '/v1/clouds/c2/zones/app/pools/p/allocations', { body: { vm: 'a', vip: 'b' } }))).toBe(400);
    expect(await statusOf(c.request('POST', '/v1/clouds/c2/zones/app/pools/p/allocations', { body: {} }))).toBe(400);
    const page1 = await c.listAllocations('c2', 'app', 'p', { limit: 1 });
    expect(page1.items).toHaveLength(1);
    expect(page1.cursor).toBeDefined();
    const page2 = await c.listAllocations('c2', 'app', 'p', { limit: 10, cursor: page1.cursor! });
    expect([...page1.items, ...page2.items].map((a) => a.address).sort()).toEqual([first.body.address, '10.2.0.14'].sort());
    expect((await c.byHolder('c2', 'vm', 'web-1')).map((a) => a.address)).toEqual([first.body.address]);
    const guarded = await c.release('c2', '10.2.0.14', { vm: 'web-1' }).catch((e) => e);
    expect(guarded).toMatchObject({ status: 409, problem: { reason: 'HolderMismatch' } });
    const rel = await c.request('DELETE', '/v1/clouds/c2/addresses/10.2.0.14', { query: { vip: 'api-vip' } });
    expect(rel.status).toBe(204);
    expect(await statusOf(c.lookup('c2', '10.2.0.14'))).toBe(404);
    expect(await statusOf(c.release('c2', '10.2.0.14'))).toBe(404);
    const all = await c.request<any>('DELETE', '/v1/clouds/c2/vms/web-1/allocations');
    expect(all.status).toBe(200);
    expect(all.body.released.map((a: any) => a.address)).toEqual([first.body.address]);
    expect((await c.getPool('c2', 'app', 'p')).allocated).toBe('0');
  });

  it('answers a release with the allocation as released when asked (Prefer: return=representation), and 204 otherwise', async () => {
    const c = svc.client();
    await c.createPool('c8', 'app', 'p', { ranges: ['10.8.0.0/24'] });
    const a = (await c.allocate('c8', 'app', 'p', { vm: 'rep-1', name: 'eth0', hostname: 'rep-1' })).allocation;
    const b = (await c.allocate('c8', 'app', 'p', { vm: 'rep-2' })).allocation;
    const wrong = await c.request('DELETE', `/v1/clouds/c8/addresses/${a.address}`, { query: { vm: 'rep-2' }, headers: { prefer: 'return=representation' } }).catch((e) => e);
    expect(wrong).toMatchObject({ status: 409, problem: { reason: 'HolderMismatch' } });
    const rel = await c.request<any>('DELETE', `/v1/clouds/c8/zones/app/addresses/${a.address}`, { query: { vm: 'rep-1' }, headers: { prefer: 'handling=lenient, return=representation' } });
    expect(rel.status).toBe(200);
    expect(rel.headers.get('preference-applied')).toBe('return=representation');
    expect(rel.body).toEqual(a);
    expect(await c.releaseReturning('c8', b.address)).toEqual(b);
    expect(await statusOf(c.releaseReturning('c8', b.address))).toBe(404);
    const c3 = (await c.allocate('c8', 'app', 'p', { vm: 'rep-3' })).allocation;
    const plain = await c.request('DELETE', `/v1/clouds/c8/addresses/${c3.address}`, { headers: { prefer: 'return=minimal' } });
    expect(plain.status).toBe(204);
    expect((await c.getPool('c8', 'app', 'p')).allocated).toBe('0');
  });

  it('answers a repeat with other fields 409 IdempotentParameterMismatch naming them, an identical one 200, and changes nothing', async () => {
    const c = svc.client();
    await c.createPool('c9', 'app', 'p', { ranges: ['10.9.0.0/24'] });
    const path = '/v1/clouds/c9/zones/app/pools/p/allocations';
    const body = { vm: 'vm-c', name: 'eth0', mac: '02:00:00:00:00:11', hostname: 'web', tags: { r: 'w' } };
    const first = await curl('POST', path, body);
    expect(first.status).toBe(201);
    expect(await curl('POST', path, body)).toEqual({ status: 200, body: first.body });
    expect(await curl('POST', path, { vm: 'vm-c', name: 'eth0' })).toEqual({ status: 200, body: first.body });
    const other = await curl('POST', path, { ...body, mac: '02:00:00:00:00:33', tags: { r: 'x' } });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ reason: 'IdempotentParameterMismatch', details: { fields: ['mac', 'tags'], cidr: first.body.cidr } });
    expect(other.body.detail).toMatch(/another mac, tags/);
    const viaClient = await c.allocate('c9', 'app', 'p', { vm: 'vm-c', name: 'eth0', prefixLength: 30 }).catch((e) => e);
    expect(viaClient).toMatchObject({ status: 409, reason: 'IdempotentParameterMismatch', problem: { details: { fields: ['prefixLength'] } } });
    expect(await c.lookup('c9', first.body.address)).toEqual(first.body);
    const bad = await curl('POST', path, { vm: 'vm-d', mac: 'zz' });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('must be a MAC address like 52:54:00:12:34:56');
    expect(bad.body.detail).not.toContain('[0-9A-Fa-f]');
  });

  it('patches a pool\'s prefixLength, quarantineSeconds and dns (null removes), and refuses bad values with 400', async () => {
    const c = svc.client();
    await c.createPool('c10', 'app', 'p', { ranges: ['10.10.0.0/24'], quarantineSeconds: 300 });
    const path = '/v1/clouds/c10/zones/app/pools/p';
    const changed = await curl('PATCH', path, { prefixLength: 29, quarantineSeconds: 0, dns: { domain: 'app.example.com' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ prefixLength: 29, dns: { domain: 'app.example.com' } });
    expect(changed.body).not.toHaveProperty('quarantineSeconds');
    expect((await c.allocate('c10', 'app', 'p', { vm: 'b' })).allocation.prefixLength).toBe(29);
    const removed = await curl('PATCH', path, { prefixLength: null, dns: null, quarantineSeconds: 60 });
    expect(removed.body).toMatchObject({ quarantineSeconds: 60 });
    expect(removed.body).not.toHaveProperty('prefixLength');
    expect(removed.body).not.toHaveProperty('dns');
    for (const b of [{ prefixLength: 'x' }, { prefixLength: 12 }, { quarantineSeconds: -5 }, { dns: { domain: 'no spaces allowed' } }, { dns: { name: 'x.example.com' } }]) {
      const r = await curl('PATCH', path, b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.body.reason).toBe('InvalidInput');
    }
    expect(await c.getPool('c10', 'app', 'p')).toMatchObject({ quarantineSeconds: 60 });
  });

  it('answers 409 when the pool is exhausted', async () => {
    const c = svc.client();
    await c.createPool('c3', 'z', 'tiny', { ranges: ['10.3.0.1-10.3.0.2'] });
    await c.allocate('c3', 'z', 'tiny', { vm: 'a' });
    await c.allocate('c3', 'z', 'tiny', { vm: 'b' });
    expect(await c.allocate('c3', 'z', 'tiny', { vm: 'c' }).catch((e) => e)).toMatchObject({ status: 409, problem: { reason: 'PoolExhausted' } });
  });

  it('speaks IPv6 in paths and bodies', async () => {
    const c = svc.client();
    await c.createPool('c6', 'z', 'v6', { ranges: ['2001:db8:6::/120'] });
    const a = await c.allocate('c6', 'z', 'v6', { vm: 'six', address: '2001:db8:6::42' });
    expect((await c.lookup('c6', '2001:DB8:6:0::42')).address).toBe('2001:db8:6::42');
    expect(a.allocation.cidr).toBe('2001:db8:6::42/128');
  });
});

describe('the same API through curl --aws-sigv4', () => {
  it('creates a pool, allocates, reads and releases', async () => {
    expect((await curl('PUT', '/v1/clouds/curl/zones/z/pools/p', { ranges: ['10.4.0.0/29'] })).status).toBe(201);
    const a = await curl('POST', '/v1/clouds/curl/zones/z/pools/p/allocations', { vm: 'vm:curl-1', name: 'eth0' });
    expect(a.status).toBe(201);
    expect((await curl('GET', `/v1/clouds/curl/addresses/${a.body.address}`)).body.vm).toBe('vm:curl-1');
    expect((await curl('GET', '/v1/clouds/curl/vms/vm:curl-1/allocations')).body.items).toHaveLength(1);
    expect((await curl('DELETE', `/v1/clouds/curl/addresses/${a.body.address}`)).status).toBe(204);
    expect((await curl('GET', `/v1/clouds/curl/addresses/${a.body.address}`)).status).toBe(404);
  });
});

describe('DNS settings over HTTP', () => {
  it('zones answer 409 DnsNotConfigured until the cloud has settings; PUT (curl --aws-sigv4) sets them, GET reads them; a zone caller gets 403', async () => {
    const c = svc.client();
    await c.createPool('dnsc', 'z', 'p', { ranges: ['10.8.0.0/29'], dns: { domain: 'dnsc.example.com' } });
    await c.allocate('dnsc', 'z', 'p', { vm: 'vm-1', hostname: 'host1' });
    for (const p of ['/v1/clouds/dnsc/dns/zones', '/v1/clouds/dnsc/dns/zones/dnsc.example.com']) {
      const r = await send(await signed('GET', p));
      expect(r.status, p).toBe(409);
      expect(r.type).toBe('application/problem+json');
      expect(r.body).toMatchObject({ reason: 'DnsNotConfigured', detail: expect.stringContaining('PUT /v1/clouds/dnsc/dns') });
    }
    expect(await send(await signed('GET', '/v1/clouds/dnsc/dns'))).toMatchObject({ status: 404, body: { reason: 'DnsSettingsNotFound' } });
    const settings = { primaryNs: 'ns1.dnsc.example.com', primaryNsAddresses: ['10.8.0.1'], hostmaster: 'hostmaster@dnsc.example.com', ttl: 60 };
    expect((await curl('PUT', '/v1/clouds/dnsc/dns', settings, DMZ_ONLY)).status).toBe(403);
    expect((await send(await signed('GET', '/v1/clouds/dnsc/dns', { caller: DMZ_ONLY }))).status).toBe(403);
    const put = await curl('PUT', '/v1/clouds/dnsc/dns', settings);
    expect(put).toMatchObject({ status: 200, body: { ...settings, secondaryNs: [], source: 'cloud', updatedBy: ADMIN.principal } });
    expect((await send(await signed('GET', '/v1/clouds/dnsc/dns'))).body).toEqual(put.body);
    const zone = await c.request<string>('GET', '/v1/clouds/dnsc/dns/zones/dnsc.example.com', { accept: 'text/dns' });
    expect(zone.body).toMatch(/^\$TTL 60\n@\tIN\tSOA\tns1\.dnsc\.example\.com\. hostmaster\.dnsc\.example\.com\. \d+ 3600 600 1209600 300\n@\tIN\tNS\tns1\.dnsc\.example\.com\.\nns1\tIN\tA\t10\.8\.0\.1\nhost1\tIN\tA\t10\.8\.0\.\d\n$/m);
  });
});

describe('trusted callers only', () => {
  const body = JSON.stringify({ ranges: ['10.5.0.0/29'] });
  const path = '/v1/clouds/auth/zones/z/pools/p';

  it('answers 403 with a JSON message for missing, tampered, expired, foreign and unknown signatures, and changes nothing', async () => {
    const none = await checkedFetch(`${svc.url}${path}`, { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
    expect(none.status).toBe(403);
    expect(await none.json()).toEqual({ message: 'Missing Authentication Token' });
    const cases = [
      ['tampered body', send(await signed('PUT', path, { body }), { body: body.replace('29', '28') })],
      ['tampered path', send(await signed('PUT', path, { body }), { path: '/v1/clouds/auth/zones/z/pools/q' })],
      ['expired', send(await signed('PUT', path, { body, signingDate: new Date(Date.now() - 20 * 60_000) }))],
      ['from the future', send(await signed('PUT', path, { body, signingDate: new Date(Date.now() + 20 * 60_000) }))],
      ['unknown key', send(await signed('PUT', path, { body, caller: { ...ADMIN, accessKeyId: 'AKIAUNKNOWN000000000' } }))],
      ['wrong secret', send(await signed('PUT', path, { body, caller: { ...ADMIN, secretAccessKey: 'wrong' } }))],
      ['wrong region', send(await signed('PUT', path, { body, region: 'eu-west-1' }))],
      ['wrong service', send(await signed('PUT', path, { body, service: 's3' }))],
    ] as const;
    for (const [what, p] of cases) {
      const r = await p;
      expect(r.status, what).toBe(403);
      expect(r.body, what).toEqual({ message: expect.any(String) });
    }
    expect(await svc.client().listPools('auth')).toEqual([]);
  });

  it('limits a caller to the paths its allow list names', async () => {
    const dmz = svc.client(DMZ_ONLY);
    expect((await dmz.createPool('c1', 'dmz', 'edge', { ranges: ['10.6.0.0/29'] })).created).toBe(true);
    const a = await dmz.allocate('c1', 'dmz', 'edge', { vm: 'edge-1' });
    expect(a.allocation.allocatedBy).toBe(DMZ_ONLY.principal);
    const denied = await dmz.createPool('c1', 'core', 'x', { ranges: ['10.7.0.0/29'] }).catch((e) => e);
    expect(denied.status).toBe(403);
    expect(denied.problem.message).toContain('is not authorized');
    expect(await statusOf(dmz.listPools('c1'))).toBe(403);
    expect((await svc.client().listPools('c1', 'core'))).toEqual([]);
    expect((await curl('POST', '/v1/clouds/c1/zones/core/pools/x/allocations', { vm: 'a' }, DMZ_ONLY)).status).toBe(403);
  });
});

describe('bad requests never reach the engine', () => {
  it('answers 400/404/405/413/415 as problem+json', async () => {
    const check = async (req: Promise<{ status: number; type: string; body: any }>, status: number) => {
      const r = await req;
      expect(r.status).toBe(status);
      return r;
    };
    await check(send(await signed('PUT', '/v1/clouds/x/zones/z/pools/p', { body: '{"ranges": [' })), 400);
    await check(send(await signed('PUT', '/v1/clouds/x/zones/z/pools/p', { body: '{"ranges":["10.8.0.0/29"]}', headers: { 'content-type': 'text/plain' } })), 415);
    await check(send(await signed('PUT', '/v1/clouds/X/zones/z/pools/p', { body: '{"ranges":["10.8.0.0/29"]}' })), 400);
    await check(send(await signed('PUT', '/v1/clouds/x/zones/z/pools/p', { body: '' })), 400);
    await check(send(await signed('GET', '/v1/clouds/x/zones/z/pools/p/allocations', { query: { limit: '0' } })), 400);
    await check(send(await signed('GET', '/v1/clouds/x/zones/z/pools/p', { query: { surprise: '1' } })), 400);
    await check(send(await signed('GET', '/v1/clouds/x/nothing-here')), 404);
    const r = await check(send(await signed('POST', '/v1/clouds/x/zones/z/pools/p')), 405);
    expect(r.body.detail).toContain('PUT');
    const big = JSON.stringify({ ranges: ['10.8.0.0/29'], metadata: { blob: 'x'.repeat(1_100_000) } });
    await check(send(await signed('PUT', '/v1/clouds/x/zones/z/pools/p', { body: big })), 413);
    await check(send(await signed('GET', '/v1/clouds/x/addresses/not-an-ip')), 400);
    expect(await svc.client().listPools('x')).toEqual([]);
  });

  it('serves the OpenAPI 3.1 document generated from the schemas', async () => {
    const doc = (await svc.client().request<any>('GET', '/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/clouds/{cloud}/zones/{zone}/pools/{pool}', '/v1/clouds/{cloud}/addresses/{address}', '/v1/clouds/{cloud}/vms/{vm}/allocations']));
    expect(doc.paths['/v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations'].post.requestBody.content['application/json'].schema).toBeDefined();
    expect(doc.components.schemas.PoolDefinition.properties.ranges).toBeDefined();
  });
});

describe('service settings', () => {
  it('refuses a bad IPAM_GROUP_COMMIT, IPAM_DYNAMODB_HEAP_MB, IPAM_PORT or IPAM_DNS_* with a one-line message and exit 1', async () => {
    for (const [k, v, msg] of [
      ['IPAM_DNS_PRIMARY_NS', 'ns1.example.com', /IPAM_DNS_PRIMARY_NS and IPAM_DNS_HOSTMASTER go together/],
      ['IPAM_DNS_TTL', 'soon', /IPAM_DNS_TTL must be a number of seconds, not soon/],
      ['IPAM_GROUP_COMMIT', 'lots', /IPAM_GROUP_COMMIT must be a whole number from 0 to 64, not "lots"/],
      ['IPAM_DYNAMODB_HEAP_MB', '12', /IPAM_DYNAMODB_HEAP_MB must be a whole number of MB from 256 to 65536, not "12"/],
      ['IPAM_PORT', '99999', /IPAM_PORT must be a port number/],
    ] as const) {
      const r = await exec(process.execPath, ['--import', 'tsx', 'bin/local.ts'], { env: { ...process.env, [k]: v, IPAM_DATA_DIR: '/nonexistent/never-created' } }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(msg);
      expect(r.stderr).toMatch(/^ipam: could not start: /m);
    }
  });

  it('serves 32 concurrent allocations of one pool, each once, with counts that agree (group commit on, and off)', async () => {
    const off = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_GROUP_COMMIT: '0' });
    try {
      for (const [name, s] of [['on', svc], ['off', off]] as const) {
        const c = s.client();
        await c.createPool(`gc-${name}`, 'z', 'p', { ranges: ['10.77.0.0/24'] });
        const got = await Promise.all(Array.from({ length: 32 }, (_, i) => c.allocate(`gc-${name}`, 'z', 'p', { vm: `vm-${i}`, hostname: `h${i}` })));
        expect(got.every((g) => g.created)).toBe(true);
        expect(new Set(got.map((g) => g.allocation.address)).size).toBe(32);
        expect((await c.getPool(`gc-${name}`, 'z', 'p')).allocated).toBe('32');
        const again = await Promise.all(Array.from({ length: 32 }, (_, i) => c.allocate(`gc-${name}`, 'z', 'p', { vm: `vm-${i}`, hostname: `h${i}` })));
        expect(again.map((g) => [g.created, g.allocation.address])).toEqual(got.map((g) => [false, g.allocation.address]));
      }
    } finally {
      await off.stop();
    }
  });
});
