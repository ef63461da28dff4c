import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { IpamError } from '../lib/core/errors.js';
import { Environments, unitsOf } from '../lib/engine/environments.js';
import { heatEnvironment } from '../lib/integrations/heat.js';
import { Ipam } from '../lib/engine/ipam.js';
import { startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, freshIpam } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');

describe('environments (engine)', () => {
  it('allocates every slot, is idempotent, and renders a Heat environment', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'web', 'front', { ranges: ['10.0.0.0/24'] }, ctx);
    await ipam.createPool('c', 'db', 'back', { ranges: ['10.1.0.0/24'] }, ctx);
    const envs = new Environments(ipam, store);
    const spec = {
      slots: {
        web_vip: { zone: 'web', pool: 'front', vip: 'shop-web', address: '10.0.0.10' },
        web_servers: { zone: 'web', pool: 'front', vm: 'shop-web', count: 3, hostname: 'web' },
        db_ip: { zone: 'db', pool: 'back', vm: 'shop-db' },
      },
    };
    const first = await envs.apply('c', 'shop', spec, ctx);
    expect(first.created).toBe(true);
    expect(first.view.slots.web_vip!.addresses).toEqual(['10.0.0.10']);
    expect(first.view.slots.web_servers!.addresses).toHaveLength(3);
    expect(first.view.slots.db_ip!.addresses[0]).toMatch(/^10\.1\.0\./);
    const held = await ipam.byHolder('c', { kind: 'vm', id: 'shop-web' });
    expect(held.map((a) => a.name).sort()).toEqual(['shop.web_servers-1', 'shop.web_servers-2', 'shop.web_servers-3']);
    expect(held.map((a) => a.hostname).sort()).toEqual(['web-1', 'web-2', 'web-3']);
    expect(held.every((a) => a.tags['ipam:environment'] === 'shop')).toBe(true);
    const again = await envs.apply('c', 'shop', spec, ctx);
    expect(again).toEqual({ view: first.view, created: false });
    expect(await envs.get('c', 'shop')).toEqual(first.view);
    const heat = parseYaml(await heatEnvironment(first.view));
    expect(heat).toEqual({
      parameter_defaults: { web_vip: '10.0.0.10', web_servers: first.view.slots.web_servers!.addresses.join(','), db_ip: first.view.slots.db_ip!.addresses[0] },
    });
    const other = await envs.apply('c', 'shop', { slots: { db_ip: { zone: 'db', pool: 'back', vm: 'x' } } }, ctx).catch((e) => e);
    expect(other).toBeInstanceOf(IpamError);
    expect(other.reason).toBe('EnvironmentConflict');
    const released = await envs.release('c', 'shop', ctx);
    expect(released).toHaveLength(5);
    expect((await ipam.getPool('c', 'web', 'front')).allocated).toBe('0');
    expect((await envs.get('c', 'shop').catch((e) => e)).reason).toBe('EnvironmentNotFound');
  });

  it('is all or nothing: a slot that cannot be satisfied leaves nothing allocated and is named', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'big', { ranges: ['10.2.0.0/24'] }, ctx);
    await ipam.createPool('c', 'z', 'tiny', { ranges: ['10.3.0.1-10.3.0.2'] }, ctx);
    await ipam.allocate({ cloud: 'c', zone: 'z', pool: 'big', holder: { kind: 'vm', id: 'someone' }, address: '10.2.0.99' }, ctx);
    const envs = new Environments(ipam, store);
    const err = await envs
      .apply('c', 'e1', { slots: { apps: { zone: 'z', pool: 'big', vm: 'a', count: 20 }, dbs: { zone: 'z', pool: 'tiny', vm: 'd', count: 3 } } }, ctx)
      .catch((e) => e);
    expect(err).toBeInstanceOf(IpamError);
    expect(err.reason).toBe('EnvironmentConflict');
    expect(err.message).toContain('slot dbs');
    expect((await ipam.getPool('c', 'z', 'big')).allocated).toBe('1');
    expect((await ipam.getPool('c', 'z', 'tiny')).allocated).toBe('0');
    const taken = await envs.apply('c', 'e2', { slots: { pinned: { zone: 'z', pool: 'big', vip: 'v', address: '10.2.0.99' } } }, ctx).catch((e) => e);
    expect(taken.message).toContain('slot pinned');
    expect((await envs.get('c', 'e1').catch((e) => e)).reason).toBe('EnvironmentNotFound');
    // a failed environment can be applied again once it fits
    const ok = await envs.apply('c', 'e1', { slots: { apps: { zone: 'z', pool: 'big', vm: 'a', count: 20 } } }, ctx);
    expect(ok.view.slots.apps!.addresses).toHaveLength(20);
  });

  it('allocates pinned addresses before random ones, so a full small pool still fits', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'four', { ranges: ['10.6.0.1-10.6.0.4'] }, ctx);
    const envs = new Environments(ipam, store);
    for (let round = 0; round < 5; round++) {
      const r = await envs.apply('c', `fit-${round}`, { slots: { many: { zone: 'z', pool: 'four', vm: `m${round}`, count: 3 }, pinned: { zone: 'z', pool: 'four', vip: `p${round}`, address: '10.6.0.2' } } }, ctx);
      expect(r.view.slots.pinned!.addresses).toEqual(['10.6.0.2']);
      expect(r.view.slots.many!.addresses.sort()).toEqual(['10.6.0.1', '10.6.0.3', '10.6.0.4']);
      await envs.release('c', `fit-${round}`, ctx);
    }
  });

  it('holds 300 addresses in one environment (more than one transaction can)', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.4.0.0/22'] }, ctx);
    const envs = new Environments(ipam, store);
    const r = await envs.apply('c', 'large', { slots: { nodes: { zone: 'z', pool: 'p', vm: 'cluster', count: 300 } } }, ctx);
    expect(new Set(r.view.slots.nodes!.addresses).size).toBe(300);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('300');
    expect((await envs.apply('c', 'large', { slots: { nodes: { zone: 'z', pool: 'p', vm: 'cluster', count: 300 } } }, ctx)).view).toEqual(r.view);
    expect(await envs.release('c', 'large', ctx)).toHaveLength(300);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('0');
  }, 300_000); // 15-40 s alone; a CI runner whose one DynamoDB Local serves every test file at once took over 120 s

  it('gives concurrent identical calls one set of addresses', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.5.0.0/24'] }, ctx);
    const spec = { slots: { a: { zone: 'z', pool: 'p', vm: 'v', count: 12 }, b: { zone: 'z', pool: 'p', vip: 'vv' } } };
    const results = await Promise.all(Array.from({ length: 6 }, () => new Environments(new Ipam(store), store).apply('c', 'race', spec, ctx)));
    const views = results.map((r) => JSON.stringify(r.view));
    expect(new Set(views).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await ipam.getPool('c', 'z', 'p')).allocated).toBe('13');
  });

  it('numbers a count slot\'s hostnames from 0 with %index%, in the order of its addresses (as Heat\'s ResourceGroup)', async () => {
    const { ipam, store } = await freshIpam();
    await ipam.createPool('c', 'z', 'p', { ranges: ['10.7.0.0/24'], dns: { domain: 'example.com' } }, ctx); // FQDN hostnames are names of the pool's domain
    const envs = new Environments(ipam, store);
    const r = await envs.apply('c', 'idx', { slots: { web: { zone: 'z', pool: 'p', vm: 'w', count: 3, hostname: 'web-%index%.example.com' } } }, ctx);
    const hosts = await Promise.all(r.view.slots.web!.addresses.map(async (a) => (await ipam.lookup('c', a)).hostname));
    expect(hosts).toEqual(['web-0.example.com', 'web-1.example.com', 'web-2.example.com']);
    expect(() => unitsOf('e', { slots: { one: { zone: 'z', pool: 'p', vm: 'v', hostname: 'web-%index%' } } })).toThrow(/%index% in the hostname numbers the addresses of a slot with count/);
  });

  it('refuses bad definitions before allocating anything', () => {
    expect(() => unitsOf('e', { slots: {} })).toThrow(/at least one slot/);
    expect(() => unitsOf('e', { slots: { '1bad': { zone: 'z', pool: 'p', vm: 'v' } } })).toThrow(/Heat parameter name/);
    expect(() => unitsOf('e', { slots: { ok: { zone: 'z', pool: 'p' } } })).toThrow(/exactly one of vm or vip/);
    expect(() => unitsOf('e', { slots: { ok: { zone: 'z', pool: 'p', vm: 'v', count: 2, address: '10.0.0.1' } } })).toThrow(/specific address/);
    expect(() => unitsOf('e', { slots: { ok: { zone: 'z', pool: 'p', vm: 'v', count: 1001 } } })).toThrow(/at most 1000/);
  });
});

describe('environments over HTTP and the CLI', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
    await svc.client().createPool('prod', 'web', 'front', { ranges: ['10.30.0.0/24'] });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('PUT (201, then 200), GET as JSON, as Heat (format=heat and Accept: application/yaml), DELETE', async () => {
    const c = svc.client();
    const body = { slots: { lb_vip: { zone: 'web', pool: 'front', vip: 'lb' }, web_ips: { zone: 'web', pool: 'front', vm: 'web', count: 2 } } };
    const put = await c.request<any>('PUT', '/v1/clouds/prod/environments/shop', { body });
    expect(put.status).toBe(201);
    expect((await c.request<any>('PUT', '/v1/clouds/prod/environments/shop', { body })).status).toBe(200);
    const heat = await c.request<string>('GET', '/v1/clouds/prod/environments/shop', { query: { format: 'heat' } });
    expect(heat.headers.get('content-type')).toBe('application/yaml');
    expect(parseYaml(heat.body)).toEqual({ parameter_defaults: { lb_vip: put.body.slots.lb_vip.addresses[0], web_ips: put.body.slots.web_ips.addresses.join(',') } });
    const byAccept = await c.request<string>('GET', '/v1/clouds/prod/environments/shop', { accept: 'application/yaml' });
    expect(byAccept.body).toBe(heat.body);
    const bad = await c.request('PUT', '/v1/clouds/prod/environments/bad', { body: { slots: { 'not-heat': { zone: 'web', pool: 'front', vm: 'x' } } } }).catch((e) => e);
    expect(bad.status).toBe(400);
    const gone = await c.request<any>('DELETE', '/v1/clouds/prod/environments/shop');
    expect(gone.body.released).toHaveLength(3);
    expect((await c.request('GET', '/v1/clouds/prod/environments/shop').catch((e) => e)).status).toBe(404);
  });

  it('ipam env apply -f manifest.yaml --output heat, then ipam env release', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-env-'));
    const manifest = path.join(dir, 'manifest.yaml');
    writeFileSync(manifest, 'slots:\n  app_vip:\n    zone: web\n    pool: front\n    vip: app\n  app_servers:\n    zone: web\n    pool: front\n    vm: app\n    count: 3\n');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', svc.url, '--callers-file', svc.callersFile, ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
      );
    const applied = await run(['env', 'apply', 'prod', 'app', '-f', manifest, '--output', 'heat']);
    expect(applied.code, applied.stderr).toBe(0);
    const env = parseYaml(applied.stdout);
    expect(env.parameter_defaults.app_vip).toMatch(/^10\.30\.0\.\d+$/);
    expect(env.parameter_defaults.app_servers.split(',')).toHaveLength(3);
    const released = await run(['-o', 'json', 'env', 'release', 'prod', 'app']);
    expect(released.code, released.stderr).toBe(0);
    expect(JSON.parse(released.stdout)).toHaveLength(4);
  });
});
