/**
 * A typed client of the v1 API. Requests are signed with SigV4 for execute-api, with the
 * AWS SDK's default credential chain or with a caller of the local service's callers file.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import { IpamError } from '../core/errors.js';
import type { AllocateRequest, Json, PoolPatch, PoolSpec, PoolView, Tags } from '../core/model.js';
import type { AllocationView as Allocation, Network, NetworkPatch, NetworkSpec } from '../core/network.js';
import type { ZoneAllocateRequest } from '../core/zone-allocation.js';

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  reason?: string;
  message?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }
  get reason() {
    return this.problem.reason;
  }
}

export interface ClientOptions {
  endpoint: string;
  region?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
}

export type PoolOut = Omit<PoolView, 'uid' | 'epoch' | 'shards'>;
export type NetworkOut = Omit<Network, 'uid' | 'requestId'>;

/** The POST body of an allocation: the engine's request without the path's parts, the holder as vm or vip. */
export type AllocateBody = Omit<AllocateRequest, 'cloud' | 'zone' | 'pool' | 'holder'> & { vm?: string; vip?: string };
/** The POST body of an allocation by zone: the pool route's without `address`, plus `family` and the pool filter `pools`. */
export type ZoneAllocateBody = Omit<ZoneAllocateRequest, 'cloud' | 'zone' | 'holder'> & { vm?: string; vip?: string };

const enc = encodeURIComponent;

/**
 * The AWS SDK's default credential chain, loaded on first use: most calls of the local service sign
 * with a callers file, and loading the chain costs start-up time (docs/benchmarks.md).
 */
function defaultCredentialChain(): AwsCredentialIdentityProvider {
  let chain: Promise<AwsCredentialIdentityProvider> | undefined;
  return async () => {
    chain ??= import('@aws-sdk/credential-providers').then((m) => m.fromNodeProviderChain());
    return (await chain)();
  };
}

/**
 * The first (or the named) caller of a local callers file, as credentials. A file that is missing or
 * unreadable, or an unknown caller, is bad input (IpamError InvalidInput) that names the file.
 */
export async function callerCredentials(file: string, principal?: string): Promise<AwsCredentialIdentity> {
  let callers: { accessKeyId: string; secretAccessKey: string; principal: string }[];
  try {
    callers = JSON.parse(await readFile(file, 'utf8'));
    if (!Array.isArray(callers)) throw new Error('not a JSON array of callers');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IpamError('InvalidInput', code === 'ENOENT' ? `callers file ${file} does not exist` : `callers file ${file}: ${(e as Error).message}`);
  }
  const c = principal ? callers.find((x) => x.principal === principal) : callers[0];
  if (!c) throw new IpamError('InvalidInput', principal ? `no caller ${principal} in ${file} (it has ${callers.map((x) => x.principal).join(', ') || 'none'})` : `${file} holds no caller`);
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

/** What the client needs of an HTTP response. */
interface Received {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}
type Send = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<Received>;

/**
 * One request with node:http(s). The default instead of fetch: Node loads its fetch implementation
 * (undici) on first use, which was a third of a CLI call's start-up (docs/benchmarks.md).
 */
/**
 * SHA-256, and HMAC-SHA256 given a secret, for the signer, from node:crypto: a signature costs about
 * half the CPU it does with the pure-JS @aws-crypto/sha256-js (measured: 43-58 µs against 71-108 µs).
 */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

const bytes = (d: SourceData): Buffer => (typeof d === 'string' ? Buffer.from(d, 'utf8') : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

const nodeSend: Send = (url, init) =>
  new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const get = (name: string) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        };
        resolve({ status: res.statusCode ?? 0, headers: { get }, text: async () => text });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });

export class IpamClient {
  private readonly signer: SignatureV4;
  private readonly url: URL;
  private readonly send: Send;

  constructor(opts: ClientOptions) {
    this.url = new URL(opts.endpoint.endsWith('/') ? opts.endpoint : `${opts.endpoint}/`);
    this.signer = new SignatureV4({ service: 'execute-api', region: opts.region ?? 'us-east-1', credentials: opts.credentials ?? defaultCredentialChain(), sha256: NodeSha256 });
    this.send = opts.fetch ?? nodeSend;
  }

  /** Signs and sends one request; returns the parsed body, or throws ApiError for 4xx/5xx. */
  async request<T = unknown>(method: string, path: string, opts: { query?: Record<string, string | number | undefined>; body?: unknown; accept?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T; raw: string; headers: Received['headers'] }> {
    const base = this.url.pathname.replace(/\/$/, '');
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query[k] = String(v);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = new HttpRequest({
      method,
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      ...(this.url.port ? { port: Number(this.url.port) } : {}),
      path: `${base}${path}`,
      query,
      headers: { ...opts.headers, host: this.url.host, accept: opts.accept ?? 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const signed = await this.signer.sign(req);
    const qs = new URLSearchParams(query).toString();
    const res = await this.send(`${this.url.origin}${signed.path}${qs ? `?${qs}` : ''}`, { method, headers: signed.headers as Record<string, string>, ...(body !== undefined ? { body } : {}) });
    const raw = await res.text();
    const ct = res.headers.get('content-type') ?? '';
    const parsed = ct.includes('json') && raw ? JSON.parse(raw) : raw;
    if (res.status >= 400) throw new ApiError(res.status, typeof parsed === 'object' ? parsed : { detail: raw });
    return { status: res.status, body: parsed as T, raw, headers: res.headers };
  }

  private poolPath(cloud: string, zone: string, pool: string) {
    return `/v1/clouds/${enc(cloud)}/zones/${enc(zone)}/pools/${enc(pool)}`;
  }

  async createPool(cloud: string, zone: string, pool: string, spec: PoolSpec) {
    const r = await this.request<PoolOut>('PUT', this.poolPath(cloud, zone, pool), { body: spec });
    return { pool: r.body, created: r.status === 201 };
  }
  async getPool(cloud: string, zone: string, pool: string) {
    return (await this.request<PoolOut>('GET', this.poolPath(cloud, zone, pool))).body;
  }
  async listPools(cloud: string, zone?: string) {
    return (await this.request<{ items: PoolOut[] }>('GET', `/v1/clouds/${enc(cloud)}/pools`, { query: { zone } })).body.items;
  }
  async updatePool(cloud: string, zone: string, pool: string, patch: PoolPatch) {
    return (await this.request<PoolOut>('PATCH', this.poolPath(cloud, zone, pool), { body: patch })).body;
  }
  async deletePool(cloud: string, zone: string, pool: string) {
    await this.request('DELETE', this.poolPath(cloud, zone, pool));
  }
  private networkPath(cloud: string, zone: string, network: string) {
    return `/v1/clouds/${enc(cloud)}/zones/${enc(zone)}/networks/${enc(network)}`;
  }

  async createNetwork(cloud: string, zone: string, network: string, spec: NetworkSpec) {
    const r = await this.request<NetworkOut>('PUT', this.networkPath(cloud, zone, network), { body: spec });
    return { network: r.body, created: r.status === 201 };
  }
  async getNetwork(cloud: string, zone: string, network: string) {
    return (await this.request<NetworkOut>('GET', this.networkPath(cloud, zone, network))).body;
  }
  async listNetworks(cloud: string, zone?: string) {
    return (await this.request<{ items: NetworkOut[] }>('GET', `/v1/clouds/${enc(cloud)}/networks`, { query: { zone } })).body.items;
  }
  async updateNetwork(cloud: string, zone: string, network: string, patch: NetworkPatch) {
    return (await this.request<NetworkOut>('PATCH', this.networkPath(cloud, zone, network), { body: patch })).body;
  }
  async deleteNetwork(cloud: string, zone: string, network: string) {
    await this.request('DELETE', this.networkPath(cloud, zone, network));
  }

  async allocate(cloud: string, zone: string, pool: string, body: AllocateBody) {
    const r = await this.request<Allocation>('POST', `${this.poolPath(cloud, zone, pool)}/allocations`, { body });
    return { allocation: r.body, created: r.status === 201 };
  }
  /** An address from whichever pool of the zone has room (`pools` names or selects the pools to try); idempotent per (zone, holder, name). */
  async allocateInZone(cloud: string, zone: string, body: ZoneAllocateBody) {
    const r = await this.request<Allocation>('POST', `/v1/clouds/${enc(cloud)}/zones/${enc(zone)}/allocations`, { body });
    return { allocation: r.body, created: r.status === 201 };
  }
  async listAllocations(cloud: string, zone: string, pool: string, opts: { limit?: number; cursor?: string } = {}) {
    return (await this.request<{ items: Allocation[]; cursor?: string }>('GET', `${this.poolPath(cloud, zone, pool)}/allocations`, { query: opts })).body;
  }
  async *allAllocations(cloud: string, zone: string, pool: string): AsyncIterable<Allocation> {
    let cursor: string | undefined;
    do {
      const page = await this.listAllocations(cloud, zone, pool, { limit: 1000, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }
  /** The cloud's path, or with `zone` the zone's (its routes reach only that zone: what a zone pipeline's grant covers). */
  private scope(cloud: string, zone?: string) {
    return zone === undefined ? `/v1/clouds/${enc(cloud)}` : `/v1/clouds/${enc(cloud)}/zones/${enc(zone)}`;
  }
  async lookup(cloud: string, address: string, zone?: string) {
    return (await this.request<Allocation>('GET', `${this.scope(cloud, zone)}/addresses/${enc(address)}`)).body;
  }
  async updateAllocation(cloud: string, address: string, patch: { mac?: string | null; hostname?: string | null; tags?: Tags; metadata?: Record<string, Json> }, zone?: string) {
    return (await this.request<Allocation>('PATCH', `${this.scope(cloud, zone)}/addresses/${enc(address)}`, { body: patch })).body;
  }
  async release(cloud: string, address: string, guard?: { vm?: string; vip?: string }, zone?: string) {
    await this.request('DELETE', `${this.scope(cloud, zone)}/addresses/${enc(address)}`, { query: { ...guard } });
  }
  /** Releases, and answers the allocation as it was released, in the same request (`Prefer: return=representation`). */
  async releaseReturning(cloud: string, address: string, guard?: { vm?: string; vip?: string }, zone?: string) {
    return (await this.request<Allocation>('DELETE', `${this.scope(cloud, zone)}/addresses/${enc(address)}`, { query: { ...guard }, headers: { prefer: 'return=representation' } })).body;
  }
  async byHolder(cloud: string, kind: 'vm' | 'vip', id: string, zone?: string) {
    return (await this.request<{ items: Allocation[] }>('GET', `${this.scope(cloud, zone)}/${kind}s/${enc(id)}/allocations`)).body.items;
  }
  /** The VM's cloud-init network-config (version 2, netplan YAML) for the NICs it holds in the cloud, or in `zone` only. */
  async networkConfig(cloud: string, vm: string, zone?: string) {
    return (await this.request<string>('GET', `${this.scope(cloud, zone)}/vms/${enc(vm)}/network-config`, { accept: 'application/yaml' })).body;
  }
  async releaseHolder(cloud: string, kind: 'vm' | 'vip', id: string, zone?: string) {
    return (await this.request<{ released: Allocation[] }>('DELETE', `${this.scope(cloud, zone)}/${kind}s/${enc(id)}/allocations`)).body.released;
  }
}
