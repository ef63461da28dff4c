/**
 * A typed client of the v1 API. Requests are signed with SigV4 for execute-api, with the
 * AWS SDK's default credential chain or with a caller of the local service's callers file.
 */
import { readFile } from 'node:fs/promises';
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { AllocateRequest, Allocation, Json, PoolPatch, PoolSpec, PoolView, Tags } from './model.js';

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

/** The POST body of an allocation: the engine's request without the path's parts, the holder as vm or vip. */
export type AllocateBody = Omit<AllocateRequest, 'cloud' | 'zone' | 'pool' | 'holder'> & { vm?: string; vip?: string };

const enc = encodeURIComponent;

/** The first (or the named) caller of a local callers file, as credentials. */
export async function callerCredentials(file: string, principal?: string): Promise<AwsCredentialIdentity> {
  const callers = JSON.parse(await readFile(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string; principal: string }[];
  const c = principal ? callers.find((x) => x.principal === principal) : callers[0];
  if (!c) throw new Error(principal ? `no caller ${principal} in ${file}` : `${file} holds no caller`);
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

export class IpamClient {
  private readonly signer: SignatureV4;
  private readonly url: URL;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ClientOptions) {
    this.url = new URL(opts.endpoint.endsWith('/') ? opts.endpoint : `${opts.endpoint}/`);
    this.signer = new SignatureV4({ service: 'execute-api', region: opts.region ?? 'us-east-1', credentials: opts.credentials ?? fromNodeProviderChain(), sha256: Sha256 });
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Signs and sends one request; returns the parsed body, or throws ApiError for 4xx/5xx. */
  async request<T = unknown>(method: string, path: string, opts: { query?: Record<string, string | number | undefined>; body?: unknown; accept?: string } = {}): Promise<{ status: number; body: T; raw: string; headers: Headers }> {
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
      headers: { host: this.url.host, accept: opts.accept ?? 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const signed = await this.signer.sign(req);
    const qs = new URLSearchParams(query).toString();
    const res = await this.fetchImpl(`${this.url.origin}${signed.path}${qs ? `?${qs}` : ''}`, { method, headers: signed.headers as Record<string, string>, ...(body !== undefined ? { body } : {}) });
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
  async allocate(cloud: string, zone: string, pool: string, body: AllocateBody) {
    const r = await this.request<Allocation>('POST', `${this.poolPath(cloud, zone, pool)}/allocations`, { body });
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
  async byHolder(cloud: string, kind: 'vm' | 'vip', id: string, zone?: string) {
    return (await this.request<{ items: Allocation[] }>('GET', `${this.scope(cloud, zone)}/${kind}s/${enc(id)}/allocations`)).body.items;
  }
  async releaseHolder(cloud: string, kind: 'vm' | 'vip', id: string, zone?: string) {
    return (await this.request<{ released: Allocation[] }>('DELETE', `${this.scope(cloud, zone)}/${kind}s/${enc(id)}/allocations`)).body.released;
  }
}
