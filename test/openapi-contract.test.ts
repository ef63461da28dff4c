/**
 * The OpenAPI contract as served at GET /v1/openapi.json: it lints clean with Redocly and Spectral
 * (spectral:oas), every operation is named and tagged, and openapi-typescript generates types that a
 * small client program type-checks against, while a wrong program does not.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkResponse, servedDocument } from './contract.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const bin = (name: string) => path.join(ROOT, 'node_modules/.bin', name);
const run = promisify(execFile);
/** Runs a tool; a non-zero exit is a result here, not an exception. */
async function tool(cmd: string, args: string[], cwd = ROOT) {
  try {
    const r = await run(cmd, args, { cwd, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

let dir: string;
let docFile: string;
let doc: any;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-openapi-'));
  doc = await servedDocument();
  docFile = path.join(dir, 'openapi.json');
  writeFileSync(docFile, JSON.stringify(doc, null, 2));
});

describe('the served OpenAPI document', () => {
  it('names, tags and describes every operation, with unique camelCase ids', () => {
    const ops = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((item) => Object.values(item));
    expect(ops.length).toBeGreaterThan(30);
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const o of ops) {
      expect(o.operationId).toMatch(/^[a-z][A-Za-z]+$/);
      expect(o.tags).toHaveLength(1);
      expect(doc.tags.map((t: any) => t.name)).toContain(o.tags[0]);
      expect(o.summary).toBeTruthy();
      expect(o.description).toBeTruthy();
      expect(o.responses['403']).toEqual({ $ref: '#/components/responses/Forbidden' });
    }
    expect(doc.components.responses.Forbidden.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/GatewayError' });
    const env = doc.paths['/v1/clouds/{cloud}/environments/{env}'].get.responses['200'].content;
    expect(Object.keys(env)).toEqual(['application/json', 'application/yaml']);
    expect(Object.keys(doc.paths['/v1/clouds/{cloud}/dhcp'].get.responses['200'].content)).toEqual(['application/json', 'text/plain']);
    expect(Object.keys(doc.paths['/v1/clouds/{cloud}/dns/zones/{zoneName}'].get.responses['200'].content)).toEqual(['text/dns']);
    const allocate = doc.paths['/v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations'].post.responses;
    for (const c of ['413', '415', '503']) expect(allocate[c]).toBeDefined();
  });

  it('resolves its server against the stage: /prod/v1/openapi.json → /prod/v1/... ', () => {
    const server = new URL(doc.servers[0].url, 'https://abc.execute-api.us-east-1.amazonaws.com/prod/v1/openapi.json').href.replace(/\/$/, '');
    expect(`${server}/v1/clouds/c1/pools`).toBe('https://abc.execute-api.us-east-1.amazonaws.com/prod/v1/clouds/c1/pools');
    const local = new URL(doc.servers[0].url, 'http://127.0.0.1:8080/v1/openapi.json').href.replace(/\/$/, '');
    expect(`${local}/v1/clouds/c1/pools`).toBe('http://127.0.0.1:8080/v1/clouds/c1/pools');
  });

  it('lints clean with Redocly (.redocly.yaml)', async () => {
    const r = await tool(bin('redocly'), ['lint', docFile, '--config', path.join(ROOT, '.redocly.yaml'), '--format', 'json']);
    const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const problems = (report.problems as any[]).map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(r.code).toBe(0);
  }, 120_000);

  it('lints clean with Spectral spectral:oas (.spectral.yaml), warnings included', async () => {
    const r = await tool(bin('spectral'), ['lint', docFile, '--ruleset', path.join(ROOT, '.spectral.yaml'), '--format', 'json', '--fail-severity', 'hint', '--quiet']);
    const results = JSON.parse(r.stdout.trim() || '[]') as any[];
    expect(results.map((x) => `${['error', 'warning', 'info', 'hint'][x.severity]} ${x.code}: ${x.message} at ${x.path.join('.')}`)).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);
});

describe('the response check the HTTP tests run (test/contract.ts)', () => {
  const POOL = '/v1/clouds/c1/zones/dmz/pools/web';
  const pool = { cloud: 'c1', zone: 'dmz', name: 'web', family: 4, ranges: ['10.0.0.0/24'], exclude: [], size: '254', allocated: '0', free: '254', tags: {}, metadata: {}, createdAt: 't', createdBy: 'p', updatedAt: 't', updatedBy: 'p' };
  const problem = JSON.stringify({ type: 'urn:ipam:problem:x', title: 'Conflict', status: 409, detail: 'd', reason: 'X' });
  const network = { name: 'lan', cidr: '10.0.0.0/24', prefixLength: 24, gateway: '10.0.0.1', dnsServers: ['10.0.0.53'], searchDomains: [], ntpServers: [], routes: [] };
  const allocation = { cloud: 'c1', zone: 'dmz', pool: 'web', address: '10.0.0.7', cidr: '10.0.0.7/32', prefixLength: 32, family: 4, vm: 'v', name: 'default', tags: {}, metadata: {}, allocatedAt: 't', allocatedBy: 'p', version: 1, network };
  it('accepts what the document declares', async () => {
    await checkResponse('GET', `http://h${POOL}`, 200, 'application/json', JSON.stringify(pool));
    await checkResponse('GET', 'http://h/v1/clouds/c1/addresses/10.0.0.7', 200, 'application/json', JSON.stringify(allocation));
    await checkResponse('PUT', `http://h${POOL}`, 409, 'application/problem+json', problem);
    await checkResponse('DELETE', `http://h${POOL}`, 204, null, '');
    await checkResponse('GET', 'http://h/v1/clouds/c1/pools?zone=x', 403, 'application/json', '{"message":"Forbidden"}');
    await checkResponse('GET', 'http://h/v1/clouds/c1/environments/e?format=heat', 200, 'application/yaml', 'parameter_defaults: {}\n');
    await checkResponse('GET', 'http://h/v1/clouds/c1/dhcp?format=dnsmasq', 200, 'text/plain; charset=utf-8', '');
    await checkResponse('GET', 'http://h/v1/nowhere', 404, 'application/problem+json', problem);
  });
  it('refuses an undeclared status, media type or body', async () => {
    await expect(checkResponse('GET', `http://h${POOL}`, 201, 'application/json', JSON.stringify(pool))).rejects.toThrow(/status 201 is not declared for getPool/);
    await expect(checkResponse('GET', `http://h${POOL}`, 200, 'text/plain', 'x')).rejects.toThrow(/media type text\/plain is not declared for getPool/);
    await expect(checkResponse('GET', `http://h${POOL}`, 200, 'application/json', JSON.stringify({ ...pool, size: 254 }))).rejects.toThrow(/does not match.*size/);
    await expect(checkResponse('GET', 'http://h/v1/clouds/c1/addresses/10.0.0.7', 200, 'application/json', JSON.stringify({ ...allocation, network: { ...allocation.network, gateway: 1 } }))).rejects.toThrow(/does not match.*gateway/);
    await expect(checkResponse('PUT', `http://h${POOL}`, 409, 'application/problem+json', '{"message":"x"}')).rejects.toThrow(/does not match/);
    await expect(checkResponse('DELETE', `http://h${POOL}`, 204, null, 'x')).rejects.toThrow(/declares no content/);
    await expect(checkResponse('GET', 'http://h/v1/nowhere', 200, 'application/json', '{}')).rejects.toThrow(/matches no operation/);
  });
});

describe('a client generated with openapi-typescript', () => {
  const HEADER = `import type { operations, paths, components } from './api.js';
type Op = keyof operations;
type Body<O extends Op> = operations[O] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type Ok<O extends Op, S extends number> = operations[O]['responses'] extends Record<S, { content: { 'application/json': infer R } }> ? R : never;
type PathParams<O extends Op> = operations[O]['parameters']['path'];
declare function send(method: string, path: string, body?: unknown): Promise<{ status: number; json(): Promise<unknown> }>;
async function call<O extends Op, S extends number>(method: string, template: string, params: PathParams<O>, body: Body<O> | undefined, _ok: S): Promise<Ok<O, S>> {
  const p = template.replace(/\\{(\\w+)\\}/g, (_, k: string) => encodeURIComponent(String((params as Record<string, string>)[k])));
  return (await (await send(method, p, body)).json()) as Ok<O, S>;
}
const createPool = (p: PathParams<'createPool'>, b: Body<'createPool'>) => call<'createPool', 201>('PUT', '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}', p, b, 201);
const allocateAddress = (p: PathParams<'allocateAddress'>, b: Body<'allocateAddress'>) => call<'allocateAddress', 201>('POST', '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations', p, b, 201);
const getZoneAddress = (p: PathParams<'getZoneAddress'>) => call<'getZoneAddress', 200>('GET', '/v1/clouds/{cloud}/zones/{zone}/addresses/{address}', p, undefined, 200);
const createNetwork = (p: PathParams<'createNetwork'>, b: Body<'createNetwork'>) => call<'createNetwork', 201>('PUT', '/v1/clouds/{cloud}/zones/{zone}/networks/{network}', p, b, 201);
type Problem = components['schemas']['Problem'];
type Heat = operations['getEnvironment']['responses'][200]['content']['application/yaml'];
type Dnsmasq = operations['getDhcpReservations']['responses'][200]['content']['text/plain'];
type Forbidden = components['responses']['Forbidden']['content']['application/json'];
const _paths: keyof paths = '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}';
export {};
`;
  const GOOD = `${HEADER}
const net = await createNetwork({ cloud: 'prod', zone: 'dmz', network: 'lan' }, { cidr: '10.0.0.0/16', gateway: '10.0.0.1', dnsServers: ['10.0.0.53'], routes: [{ to: '192.168.0.0/16', via: '10.0.0.254' }], mtu: 1500, dns: { domain: 'prod.example.com' } });
const prefix: number = net.prefixLength;
const pool = await createPool({ cloud: 'prod', zone: 'dmz', pool: 'web' }, { ranges: ['10.0.0.0/24'], quarantineSeconds: 60, network: 'lan' });
const free: string = pool.free;
const family: 4 | 6 = pool.family;
const a = await allocateAddress({ cloud: 'prod', zone: 'dmz', pool: 'web' }, { vm: 'vm-1', name: 'eth0', mac: '52:54:00:12:34:56' });
const address: string = a.address;
const version: number = a.version;
const gateway: string | undefined = a.network?.gateway;
const dns: string[] | undefined = a.network?.dnsServers;
const again = await getZoneAddress({ cloud: 'prod', zone: 'dmz', address });
const reason: string | undefined = ({} as Problem).reason;
const heat: Heat = 'parameter_defaults: {}';
const lines: Dnsmasq = 'dhcp-host=52:54:00:12:34:56,10.0.0.1';
const message: string = ({} as Forbidden).message;
console.log(free, family, version, again.cidr, reason, heat, lines, message, prefix, gateway, dns);
`;
  const BAD = `${HEADER}
const pool = await createPool({ cloud: 'prod', zone: 'dmz', pool: 'web' }, { ranges: '10.0.0.0/24' });
const a = await allocateAddress({ cloud: 'prod', zone: 'dmz' }, { vm: 'vm-1' });
await allocateAddress({ cloud: 'prod', zone: 'dmz', pool: 'web' }, { vm: 'vm-1', nic: 'eth0' });
const n: number = pool.free;
const g: string = a.network.gateway;
await createNetwork({ cloud: 'prod', zone: 'dmz', network: 'lan' }, { cidr: '10.0.0.0/16', mtu: '1500' });
console.log(a.ipAddress, n, g);
`;

  async function typecheck(program: string) {
    const d = mkdtempSync(path.join(dir, 'client-'));
    const gen = await tool(bin('openapi-typescript'), [docFile, '--output', path.join(d, 'api.ts')]);
    expect(gen.code, gen.stderr).toBe(0);
    writeFileSync(path.join(d, 'client.ts'), program);
    writeFileSync(path.join(d, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(path.join(d, 'tsconfig.json'), JSON.stringify({ compilerOptions: { noEmit: true, strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [] }, files: ['client.ts'] }));
    return tool(bin('tsc'), ['-p', d], d);
  }

  it('type-checks a program that creates a pool, allocates and looks the address up', async () => {
    const r = await typecheck(GOOD);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);

  it('rejects a program that gets the contract wrong (a field of the wrong type, a missing path parameter, unknown fields)', async () => {
    const r = await typecheck(BAD);
    expect(r.code).not.toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/client\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'string\[\]'/); // ranges
    expect(out).toMatch(/Property 'pool' is missing/);
    expect(out).toMatch(/'nic' does not exist/);
    expect(out).toMatch(/Type 'string' is not assignable to type 'number'/); // pool.free is a decimal string
    expect(out).toMatch(/Property 'ipAddress' does not exist/);
    expect(out).toMatch(/'a\.network' is possibly 'undefined'/); // only allocations of pools in networks carry one
    expect(out).toMatch(/Type 'string' is not assignable to type 'number'/); // mtu
  }, 120_000);
});
