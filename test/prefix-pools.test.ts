/**
 * Prefix pools (issue 15): blocks of any size at constant cost. Against DynamoDB Local: the engine,
 * the items it writes, and the signed HTTP API of the local service.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { parse as parseYaml } from 'yaml';
import { parseRange } from '../lib/core/ip.js';
import { repairTable } from '../lib/dynamo/repair.js';
import { keys } from '../lib/dynamo/keys.js';
import { Environments } from '../lib/engine/environments.js';
import { Ipam } from '../lib/engine/ipam.js';
import { heatEnvironment } from '../lib/integrations/heat.js';
import { listZones, zoneFile } from '../lib/integrations/dns/zones.js';
import { ADMIN, DMZ_ONLY, startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, freshIpam, reasonOf } from './support.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

const inside = (cidr: string, outer: string) => {
  const r = parseRange(cidr);
  const o = parseRange(outer);
  return r.start >= o.start && r.end <= o.end;
};
const aligned = (cidr: string, prefix: number) => {
  const r = parseRange(cidr);
  return cidr.endsWith(`/${prefix}`) && r.end - r.start + 1n === 1n << BigInt((r.family === 4 ? 32 : 128) - prefix) && r.start % (r.end - r.start + 1n) === 0n;
};
const overlapping = (cidrs: string[]) => {
  const rs = cidrs.map(parseRange).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return rs.some((r, i) => i > 0 && r.start <= rs[i - 1]!.end);
};

describe('prefix pools', () => {
  it('hands out 5,000 distinct aligned /64s from a /48 to concurrent callers, with the usage in blocks and addresses', async () => {
    const { ipam, doc, table } = await freshIpam();
    const { pool } = await ipam.createPool('c', 'core', 'v6', { ranges: ['2001:db8:100::/48'], prefixLength: 64 }, ctx);
    expect(pool).toMatchObject({ prefixPool: true, prefixLength: 64, size: (1n << 80n).toString(), allocated: '0', blocks: { size: '65536', allocated: '0', free: '65536' } });
    const got = await Promise.all(Array.from({ length: 5000 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: `vm-${i}` } }, ctx)));
    const cidrs = got.map((g) => g.allocation.cidr);
    expect(new Set(cidrs).size).toBe(5000);
    expect(got.every((g) => g.created && g.allocation.prefixLength === 64)).toBe(true);
    expect(cidrs.every((c) => aligned(c, 64) && inside(c, '2001:db8:100::/48'))).toBe(true);
    expect(overlapping(cidrs)).toBe(false);
    const view = await ipam.getPool('c', 'core', 'v6');
    expect(view.blocks).toEqual({ size: '65536', allocated: '5000', free: '60536' });
    expect(view.allocated).toBe((5000n << 64n).toString());
    // The free-slot index is 256 blocks per item: the whole /48 is 256 chunk items, whatever the block size.
    const chunks = await doc.send(new QueryCommand({ TableName: table, IndexName: 'byPoolChunk', KeyConditionExpression: 'gsi2pk = :p', ExpressionAttributeValues: { ':p': `POOLCHUNKS#${pool.uid}` } }));
    expect(chunks.Items!.length).toBeGreaterThan(0);
    expect(chunks.Items!.length).toBeLessThanOrEqual(256);
    expect(chunks.Items!.every((i) => String(i.gsi2sk).startsWith('6/64:'))).toBe(true);
  }, 900_000); // correctness, not speed: on a CI runner whose one DynamoDB Local serves every test file at once it has taken over 300 s (16 s alone)

  it('exhausts a /56 of /64s at exactly 256 blocks, then refuses with PoolExhausted; a release makes room again', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'core', 'small', { ranges: ['2001:db8:200::/56'], prefixLength: 64 }, ctx);
    const got = await Promise.all(Array.from({ length: 256 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'core', pool: 'small', holder: { kind: 'vm', id: `vm-${i}` } }, ctx)));
    expect(new Set(got.map((g) => g.allocation.cidr)).size).toBe(256);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'small', holder: { kind: 'vm', id: 'one-too-many' } }, ctx))).toBe('PoolExhausted');
    expect((await ipam.getPool('c', 'core', 'small')).blocks).toEqual({ size: '256', allocated: '256', free: '0' });
    const gone = got[17]!.allocation;
    await ipam.release('c', gone.address, undefined, ctx);
    const again = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'small', holder: { kind: 'vm', id: 'late' } }, ctx);
    expect(again.allocation.cidr).toBe(gone.cidr);
  }, 300_000);

  it('carves /16s from an IPv4 /8', async () => {
    const { ipam } = await freshIpam();
    const { pool } = await ipam.createPool('c', 'dc', 'big', { ranges: ['10.0.0.0/8'], prefixLength: 16 }, ctx);
    expect(pool).toMatchObject({ prefixPool: true, size: String(1 << 24), blocks: { size: '256', allocated: '0', free: '256' } });
    const got = await Promise.all(Array.from({ length: 256 }, (_, i) => ipam.allocate({ cloud: 'c', zone: 'dc', pool: 'big', holder: { kind: 'vip', id: `site-${i}` } }, ctx)));
    const cidrs = got.map((g) => g.allocation.cidr);
    expect(new Set(cidrs).size).toBe(256);
    expect(cidrs.every((c) => aligned(c, 16) && inside(c, '10.0.0.0/8'))).toBe(true);
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'dc', pool: 'big', holder: { kind: 'vip', id: 'x' } }, ctx))).toBe('PoolExhausted');
    expect((await ipam.getPool('c', 'dc', 'big')).free).toBe('0');
  }, 300_000);

  it('gives a specific block once, answers any address inside it, lists, releases and reuses it', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'core', 'v6', { ranges: ['2001:db8:300::/48'], prefixLength: 64 }, ctx);
    const a = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'a' }, address: '2001:db8:300:42::/64' }, ctx);
    expect(a.allocation).toMatchObject({ address: '2001:db8:300:42::', cidr: '2001:db8:300:42::/64', prefixLength: 64 });
    // The same block for someone else: 409 naming the holder; not aligned, not the pool's size, outside: 400.
    const taken = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '2001:db8:300:42::' }, ctx).catch((e) => e);
    expect(taken.reason).toBe('AddressTaken');
    expect(taken.message).toContain('2001:db8:300:42::/64');
    expect(taken.message).toContain('vm:a');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '2001:db8:300:42::1' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '2001:db8:300:40::/62' }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, prefixLength: 56 }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '2001:db8:301::/64' }, ctx))).toBe('InvalidInput');
    // Lookup of the first, a middle and the last address of the block: the block.
    for (const x of ['2001:db8:300:42::', '2001:db8:300:42:dead:beef:0:1', '2001:db8:300:42:ffff:ffff:ffff:ffff']) {
      expect((await ipam.lookup('c', x)).cidr).toBe('2001:db8:300:42::/64');
    }
    expect(await reasonOf(ipam.lookup('c', '2001:db8:300:43::1'))).toBe('AllocationNotFound');
    expect(await reasonOf(ipam.lookup('c', '2001:db8:300:42::5', 'other-zone'))).toBe('AllocationNotFound');
    const b = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'b' }, address: '2001:db8:300:7::/64' }, ctx);
    const c = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'c' }, address: '2001:db8:300:ffff::/64' }, ctx);
    // Listing in address order, with a cursor.
    const first = await ipam.listAllocations('c', 'core', 'v6', { limit: 2 });
    expect(first.items.map((x) => x.cidr)).toEqual([b.allocation.cidr, a.allocation.cidr]);
    const rest = await ipam.listAllocations('c', 'core', 'v6', { limit: 2, cursor: first.cursor! });
    expect(rest.items.map((x) => x.cidr)).toEqual([c.allocation.cidr]);
    // By holder, release by any address inside, reuse by another holder.
    expect((await ipam.byHolder('c', { kind: 'vm', id: 'a' })).map((x) => x.cidr)).toEqual(['2001:db8:300:42::/64']);
    const released = await ipam.release('c', '2001:db8:300:42::99', { kind: 'vm', id: 'a' }, ctx);
    expect(released.cidr).toBe('2001:db8:300:42::/64');
    expect(await reasonOf(ipam.lookup('c', '2001:db8:300:42::'))).toBe('AllocationNotFound');
    const reused = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'd' }, address: '2001:db8:300:42::/64' }, ctx);
    expect(reused.allocation.vm).toBe('d');
    expect((await ipam.getPool('c', 'core', 'v6')).blocks).toEqual({ size: '65536', allocated: '3', free: '65533' });
  }, 60_000);

  it('keeps a released block in quarantine', async () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const { ipam } = await freshIpam({ now: () => now });
    await ipam.createPool('c', 'core', 'q', { ranges: ['2001:db8:400::/62'], prefixLength: 64, quarantineSeconds: 600 }, ctx);
    const got = await Promise.all([0, 1, 2, 3].map((i) => ipam.allocate({ cloud: 'c', zone: 'core', pool: 'q', holder: { kind: 'vm', id: `v${i}` } }, ctx)));
    await ipam.release('c', got[2]!.allocation.address, undefined, ctx);
    const q = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'q', holder: { kind: 'vm', id: 'x' }, address: got[2]!.allocation.cidr }, ctx).catch((e) => e);
    expect(q.reason).toBe('AddressTaken');
    expect(q.message).toContain('quarantine');
    expect(await reasonOf(ipam.allocate({ cloud: 'c', zone: 'core', pool: 'q', holder: { kind: 'vm', id: 'x' } }, ctx))).toBe('PoolExhausted');
    now += 601_000;
    expect((await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'q', holder: { kind: 'vm', id: 'x' } }, ctx)).allocation.cidr).toBe(got[2]!.allocation.cidr);
  }, 60_000);

  it('is one pool among the others of its cloud: no overlap either way, and single addresses elsewhere stay as they were', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'core', 'v6', { ranges: ['2001:db8:500::/48'], prefixLength: 64 }, ctx);
    expect(await reasonOf(ipam.createPool('c', 'other', 'hosts', { ranges: ['2001:db8:500:7::/120'] }, ctx))).toBe('Overlap');
    await ipam.createPool('c', 'core', 'hosts', { ranges: ['2001:db8:501::/120'] }, ctx);
    expect(await reasonOf(ipam.createPool('c', 'core', 'v6b', { ranges: ['2001:db8:500::/40'], prefixLength: 64 }, ctx))).toBe('Overlap');
    const host = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'hosts', holder: { kind: 'vm', id: 'h' } }, ctx);
    const block = await ipam.allocate({ cloud: 'c', zone: 'core', pool: 'v6', holder: { kind: 'vm', id: 'h' } }, ctx);
    expect((await ipam.lookup('c', host.allocation.address)).pool).toBe('hosts');
    expect((await ipam.lookup('c', block.allocation.address)).pool).toBe('v6');
    expect((await ipam.byHolder('c', { kind: 'vm', id: 'h' })).map((a) => a.pool).sort()).toEqual(['hosts', 'v6']);
    expect((await ipam.releaseHolder('c', { kind: 'vm', id: 'h' }, ctx)).length).toBe(2);
    expect(await ipam.deletePool('c', 'core', 'v6', ctx)).toBeUndefined();
  }, 60_000);

  it('finds a block of a prefix pool another engine created after this one cached the cloud', async () => {
    const { ipam: a, store } = await freshIpam();
    await a.createPool('c', 'z', 'hosts', { ranges: ['10.0.0.0/24'] }, ctx);
    expect(await reasonOf(a.lookup('c', '2001:db8:990::1'))).toBe('AllocationNotFound'); // a's cache now holds the cloud without it
    const b = new Ipam(store);
    await b.createPool('c', 'z', 'v6', { ranges: ['2001:db8:990::/48'], prefixLength: 64 }, ctx);
    const got = await b.allocate({ cloud: 'c', zone: 'z', pool: 'v6', holder: { kind: 'vm', id: 'k' }, address: '2001:db8:990:5::/64' }, ctx);
    expect((await a.lookup('c', '2001:db8:990:5::77')).cidr).toBe(got.allocation.cidr);
    expect((await a.release('c', '2001:db8:990:5::77', undefined, ctx)).cidr).toBe('2001:db8:990:5::/64');
  }, 60_000);

  it('DNS zones skip its blocks, as they skip an address pool\'s blocks', async () => {
    const { ipam } = await freshIpam();
    await ipam.setDnsSettings('c', { primaryNs: 'ns1.example.org', secondaryNs: ['ns2.example.net'], hostmaster: 'dns.admin@example.org' }, ctx);
    await ipam.createPool('c', 'z', 'hosts', { ranges: ['2001:db8:aa::/120'], dns: { domain: 'hosts.example.com' } }, ctx);
    await ipam.createPool('c', 'z', 'v6', { ranges: ['2001:db8:ab::/48'], prefixLength: 64, dns: { domain: 'pd.example.com' } }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'hosts', holder: { kind: 'vm', id: 'h' }, hostname: 'h1' }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'v6', holder: { kind: 'vm', id: 'k' }, hostname: 'k1' }, ctx);
    const zones = await listZones(ipam, 'c');
    expect(zones.find((z) => z.name === 'pd.example.com')).toMatchObject({ records: 0 });
    expect(zones.find((z) => z.name === 'hosts.example.com')).toMatchObject({ records: 1 });
    expect(zones.filter((z) => z.kind === 'reverse').map((z) => z.records)).toEqual([1]);
    let text = '';
    for await (const chunk of zoneFile(ipam, 'c', 'pd.example.com')) text += chunk;
    expect(text).toContain('SOA');
    expect(text).not.toMatch(/k1|AAAA/);
  }, 60_000);

  it('refuses what a prefix pool cannot be, and the pool stays as it was', async () => {
    const { ipam } = await freshIpam();
    const bad: [string, Record<string, unknown>][] = [
      ['ranges not whole blocks', { ranges: ['2001:db8::/48', '2001:db9::1'], prefixLength: 64 }],
      ['exclude not whole blocks', { ranges: ['2001:db8::/48'], exclude: ['2001:db8::/72'], prefixLength: 64 }],
      ['a range beyond /16', { ranges: ['2000::/15'], prefixLength: 64 }],
      ['IPv4 beyond /8', { ranges: ['10.0.0.0/7'], prefixLength: 16 }],
      ['IPv6 blocks above /16', { ranges: ['2001::/16'], prefixLength: 15 }],
      ['IPv4 blocks above /8', { ranges: ['10.0.0.0/8'], prefixLength: 7 }],
      ['explicit with IPv4 /31', { ranges: ['10.0.0.0/24'], prefixLength: 31, prefixPool: true }],
      ['explicit without prefixLength', { ranges: ['10.0.0.0/24'], prefixPool: true }],
      ['prefixPool false with a prefix pool size', { ranges: ['2001:db8::/48'], prefixLength: 64, prefixPool: false }],
      ['in a network', { ranges: ['10.0.0.0/16'], prefixLength: 24, prefixPool: true, network: 'n' }],
      ['an address pool beyond /32', { ranges: ['2001:db8::/31'] }],
    ];
    for (const [why, spec] of bad) expect([why, await reasonOf(ipam.createPool('c', 'z', 'p', spec as never, ctx))]).toEqual([why, 'InvalidInput']);
    expect(await ipam.listPools('c')).toEqual([]);
    // Explicit prefix pools of small blocks: /30 point-to-point links from a /16.
    const { pool } = await ipam.createPool('c', 'z', 'links', { ranges: ['10.99.0.0/16'], prefixLength: 30, prefixPool: true }, ctx);
    expect(pool.blocks).toEqual({ size: '16384', allocated: '0', free: '16384' });
    // The block size is fixed; ranges stay whole blocks.
    expect(await reasonOf(ipam.updatePool('c', 'z', 'links', { prefixLength: 29 }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'links', { prefixLength: null }, ctx))).toBe('InvalidInput');
    expect(await reasonOf(ipam.updatePool('c', 'z', 'links', { addRanges: ['10.98.0.1'] }, ctx))).toBe('InvalidInput');
    const grown = await ipam.updatePool('c', 'z', 'links', { addRanges: ['10.98.0.0/24'] }, ctx);
    expect(grown.blocks).toEqual({ size: String(16384 + 64), allocated: '0', free: String(16384 + 64) });
    // An import loads single addresses: not into a prefix pool.
    expect(await reasonOf(ipam.importAllocations('c', 'z', 'links', [{ holder: { kind: 'vm', id: 'x' } }], ctx))).toBe('InvalidInput');
  }, 60_000);

  it('serves environments: a slot of /64 blocks, its Heat parameter the CIDRs', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'k8s', 'pods', { ranges: ['2001:db8:700::/48'], prefixLength: 64 }, ctx);
    const envs = new Environments(ipam, store);
    const spec = { slots: { pod_cidrs: { zone: 'k8s', pool: 'pods', vm: 'cluster-1', count: 3 }, ingress: { zone: 'k8s', pool: 'pods', vip: 'in-1', address: '2001:db8:700:ff::/64' } } };
    const first = await envs.apply('c', 'cl', spec, ctx);
    const cidrs = first.view.slots.pod_cidrs!.addresses;
    expect(cidrs).toHaveLength(3);
    expect(cidrs.every((c) => aligned(c, 64) && inside(c, '2001:db8:700::/48'))).toBe(true);
    expect(first.view.slots.ingress!.addresses).toEqual(['2001:db8:700:ff::/64']);
    expect((await envs.apply('c', 'cl', spec, ctx)).view).toEqual(first.view);
    expect(parseYaml(await heatEnvironment(first.view))).toEqual({ parameter_defaults: { pod_cidrs: cidrs.join(','), ingress: '2001:db8:700:ff::/64' } });
    await envs.release('c', 'cl', ctx);
    expect((await ipam.getPool('c', 'k8s', 'pods')).blocks?.allocated).toBe('0');
  }, 60_000);

  it('repair rebuilds a prefix pool\'s free-slot items and counters from its block records', async () => {
    const { ipam, store, doc, table } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['2001:db8:800::/56'], prefixLength: 64 }, ctx);
    const held = await Promise.all([0, 1, 2, 3].map((i) => ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: `r${i}` } }, ctx)));
    const pool = (await store.getPool('c', 'z', 'p'))!;
    // A replica cut mid-stream: counters lost, the chunk item lost.
    for (let k = 0; k < pool.shards; k++) await doc.send(new UpdateCommand({ TableName: table, Key: keys.shard(pool.uid, k), UpdateExpression: 'SET allocated = :z', ExpressionAttributeValues: { ':z': 0 } }));
    await doc.send(new DeleteCommand({ TableName: table, Key: keys.chunkMeta('c', 6, 0x20010db8080000000000000000000000n >> 64n, pool.uid, 64) }));
    expect(await repairTable(store)).toMatchObject({ allocations: 4, chunksFixed: 1, countersFixed: 1 });
    const fresh = new Ipam(store);
    expect((await fresh.getPool('c', 'z', 'p')).blocks).toEqual({ size: '256', allocated: '4', free: '252' });
    const taken = held[0]!.allocation.cidr;
    expect(await reasonOf(fresh.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'x' }, address: taken }, ctx))).toBe('AddressTaken');
    expect(await repairTable(store)).toMatchObject({ chunksFixed: 0, countersFixed: 0 });
  }, 60_000);

  it('refuses to remove a range while a block in it is allocated', async () => {
    const { ipam } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['2001:db8:600::/56', '2001:db8:601::/56'], prefixLength: 64 }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'a' }, address: '2001:db8:601:9::/64' }, ctx);
    const err = await ipam.updatePool('c', 'z', 'p', { removeRanges: ['2001:db8:601::/56'] }, ctx).catch((e) => e);
    expect(err.reason).toBe('RangeInUse');
    expect(err.message).toContain('2001:db8:601:9::/64');
    const shrunk = await ipam.updatePool('c', 'z', 'p', { removeRanges: ['2001:db8:600::/56'] }, ctx);
    expect(shrunk.blocks).toEqual({ size: '256', allocated: '1', free: '255' });
  }, 60_000);
});

describe('prefix pools over signed HTTP and the CLI', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
  }, 90_000);
  afterAll(async () => {
    await svc?.stop();
  });

  /** A request signed by curl's own SigV4 implementation. */
  async function curl(method: string, urlPath: string, body?: unknown, caller: { accessKeyId: string; secretAccessKey: string } = ADMIN) {
    const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '--aws-sigv4', 'aws:amz:us-east-1:execute-api', '--user', `${caller.accessKeyId}:${caller.secretAccessKey}`];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const { stdout } = await exec('curl', [...args, `${svc.url}${urlPath}`]);
    const i = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, i);
    return { status: Number(stdout.slice(i + 1)), body: text ? JSON.parse(text) : undefined };
  }

  it('creates a prefix pool, allocates /64s concurrently, looks up inside a block, and keeps other zones out', async () => {
    const created = await curl('PUT', '/v1/clouds/c1/zones/dmz/pools/delegated', { ranges: ['2001:db8:a00::/48'], prefixLength: 64 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ prefixPool: true, prefixLength: 64, blocks: { size: '65536', allocated: '0', free: '65536' } });
    expect((await curl('PUT', '/v1/clouds/c1/zones/dmz/pools/bad', { ranges: ['2001:db8:b00::/48'], prefixLength: 64, exclude: ['2001:db8:b00::1'] })).status).toBe(400);
    const c = svc.client();
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => c.allocate('c1', 'dmz', 'delegated', { vm: `vm-${i}` })));
    const cidrs = got.map((g) => g.allocation.cidr);
    expect(new Set(cidrs).size).toBe(200);
    expect(cidrs.every((x) => aligned(x, 64) && inside(x, '2001:db8:a00::/48'))).toBe(true);
    const one = got[0]!.allocation;
    const inner = one.address.replace(/::$/, ':1234:5678:9abc:def0');
    const found = await curl('GET', `/v1/clouds/c1/addresses/${inner}`);
    expect(found).toMatchObject({ status: 200, body: { cidr: one.cidr, vm: 'vm-0', pool: 'delegated' } });
    // The zone route of the zone answers it; another zone's caller or route never does.
    expect((await curl('GET', `/v1/clouds/c1/zones/dmz/addresses/${inner}`, undefined, DMZ_ONLY)).body.cidr).toBe(one.cidr);
    await curl('PUT', '/v1/clouds/c1/zones/core/pools/theirs', { ranges: ['2001:db8:c00::/48'], prefixLength: 56 });
    const theirs = await curl('POST', '/v1/clouds/c1/zones/core/pools/theirs/allocations', { vm: 'db', address: '2001:db8:c00:100::/56' });
    expect(theirs.status).toBe(201);
    const probe = await curl('GET', '/v1/clouds/c1/zones/dmz/addresses/2001:db8:c00:100::1', undefined, DMZ_ONLY);
    const free = await curl('GET', '/v1/clouds/c1/zones/dmz/addresses/2001:db8:c00:200::1', undefined, DMZ_ONLY);
    // Word for word what a free address answers (but for the address itself).
    expect(JSON.parse(JSON.stringify(probe).replaceAll('2001:db8:c00:100::1', 'X'))).toEqual(JSON.parse(JSON.stringify(free).replaceAll('2001:db8:c00:200::1', 'X')));
    expect(probe.status).toBe(404);
    expect((await curl('DELETE', '/v1/clouds/c1/zones/dmz/addresses/2001:db8:c00:100::', undefined, DMZ_ONLY)).status).toBe(404);
    expect((await curl('GET', '/v1/clouds/c1/addresses/2001:db8:c00:100::ff')).body).toMatchObject({ cidr: '2001:db8:c00:100::/56', vm: 'db' });
    // Release by an inner address; the block is free again.
    expect((await curl('DELETE', `/v1/clouds/c1/zones/dmz/addresses/${inner}`, undefined, DMZ_ONLY)).status).toBe(204);
    expect((await curl('GET', `/v1/clouds/c1/addresses/${inner}`)).status).toBe(404);
    expect((await curl('GET', '/v1/clouds/c1/zones/dmz/pools/delegated')).body.blocks).toEqual({ size: '65536', allocated: '199', free: '65337' });
  }, 300_000);

  it('the CLI creates one with --prefix-pool and shows its blocks', async () => {
    const cli = (args: string[]) => exec(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', svc.url, '--callers-file', svc.callersFile, ...args], { cwd: ROOT });
    const created = await cli(['-o', 'json', 'pool', 'create', 'c2', 'net', 'links', '--range', '10.64.0.0/16', '--prefix-length', '30', '--prefix-pool']);
    expect(JSON.parse(created.stdout)).toMatchObject({ prefixPool: true, prefixLength: 30, blocks: { size: '16384' } });
    const a = await cli(['allocate', 'c2', 'net', 'links', '--vip', 'link-1', '-q']);
    expect(a.stdout.trim()).toMatch(/^10\.64\.\d+\.\d+\/30$/);
    expect(aligned(a.stdout.trim(), 30)).toBe(true);
    const shown = await cli(['-o', 'table', 'pool', 'show', 'c2', 'net', 'links']);
    expect(shown.stdout).toContain('1/16384 used, 16383 free /30');
  }, 60_000);
});
