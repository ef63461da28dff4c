/**
 * The v1 API: one table of routes. Each route's zod schemas validate the request at the
 * edge (nothing invalid reaches DynamoDB) and generate the OpenAPI document.
 */
import * as z from 'zod';
import type { ZodType } from 'zod';
import type { Environments } from '../engine/environments.js';
import type { Ipam } from '../engine/ipam.js';
import { holderOf, type Allocation as AllocationModel, type CallContext, type PoolView } from '../core/model.js';
import { empty, errorResponse, json, MAX_BODY_BYTES, problem, type ApiRequest, type ApiResponse } from './http.js';
import * as S from './schemas.js';
import { checkNoReservedKey } from '../core/validate.js';

/** What the routes work on, built once per process at the composition root (lib/runtime/ipam.ts). */
export interface Services {
  ipam: Ipam;
  environments: Environments;
}

export interface RouteContext extends Services {
  params: Record<string, string>;
  query: any;
  body: any;
  call: CallContext;
  req: ApiRequest;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Stable, unique, camelCase: the method name of generated clients. */
  operationId: string;
  /** The OpenAPI tag grouping the operation (Pools, Networks, Allocations, Addresses, Holders, Limits, Environments, DNS, DHCP). */
  tag: string;
  summary: string;
  description?: string;
  params: z.ZodObject<any>;
  query: ZodType;
  body?: ZodType;
  /** `schema` is served as `contentType` (default application/json); `content` lists further media types of the same status. */
  responses: Record<number, { description: string; schema?: ZodType; contentType?: string; content?: Record<string, ZodType> }>;
  handle(c: RouteContext): Promise<ApiResponse>;
}

const P = {
  cloud: z.object({ cloud: S.Name }),
  pool: z.object({ cloud: S.Name, zone: S.Name, pool: S.Name }),
};

/** OpenAPI response entries of problem+json answers. */
export const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { description: 'problem', schema: S.Problem, contentType: 'application/problem+json' }]));

export function poolOut(p: PoolView) {
  const { uid: _u, epoch: _e, shards: _s, ...rest } = p;
  return rest;
}

export const allocationOut = (a: AllocationModel) => a;

/** Does the request ask for the changed resource in the answer (`Prefer: return=representation`, RFC 7240)? */
export function prefersRepresentation(req: ApiRequest): boolean {
  return (req.headers.prefer ?? '').split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === 'return=representation');
}

export const routes: Route[] = [
  {
    method: 'PUT',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}',
    operationId: 'createPool',
    tag: 'Pools',
    summary: 'Create a pool (idempotent: the identical definition again answers 200)',
    params: P.pool,
    query: S.NoQuery,
    body: S.PoolBody,
    responses: { 201: { description: 'created', schema: S.Pool }, 200: { description: 'already exists, identical', schema: S.Pool }, ...problems(400, 409) },
    async handle({ ipam, params, body, call }) {
      const r = await ipam.createPool(params.cloud!, params.zone!, params.pool!, body, call);
      return json(r.created ? 201 : 200, poolOut(r.pool));
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}',
    operationId: 'getPool',
    tag: 'Pools',
    summary: 'A pool with its utilisation',
    params: P.pool,
    query: S.NoQuery,
    responses: { 200: { description: 'the pool', schema: S.Pool }, ...problems(400, 404) },
    async handle({ ipam, params }) {
      return json(200, poolOut(await ipam.getPool(params.cloud!, params.zone!, params.pool!)));
    },
  },
  {
    method: 'PATCH',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}',
    operationId: 'updatePool',
    tag: 'Pools',
    summary: 'Add or remove ranges and excludes, replace tags or metadata',
    params: P.pool,
    query: S.NoQuery,
    body: S.PoolPatchBody,
    responses: { 200: { description: 'the changed pool', schema: S.Pool }, ...problems(400, 404, 409) },
    async handle({ ipam, params, body, call }) {
      return json(200, poolOut(await ipam.updatePool(params.cloud!, params.zone!, params.pool!, body, call)));
    },
  },
  {
    method: 'DELETE',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}',
    operationId: 'deletePool',
    tag: 'Pools',
    summary: 'Delete an empty pool',
    params: P.pool,
    query: S.NoQuery,
    responses: { 204: { description: 'deleted' }, ...problems(400, 404, 409) },
    async handle({ ipam, params, call }) {
      await ipam.deletePool(params.cloud!, params.zone!, params.pool!, call);
      return empty();
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/pools',
    operationId: 'listPools',
    tag: 'Pools',
    summary: "The cloud's pools, optionally of one zone",
    params: P.cloud,
    query: S.PoolListQuery,
    responses: { 200: { description: 'pools', schema: S.Items(S.Pool) }, ...problems(400) },
    async handle({ ipam, params, query }) {
      return json(200, { items: (await ipam.listPools(params.cloud!, query.zone)).map(poolOut) });
    },
  },
  {
    method: 'POST',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations',
    operationId: 'allocateAddress',
    tag: 'Allocations',
    summary: 'Allocate the next free address, a specific one, or an aligned block (idempotent per pool, holder and name)',
    params: P.pool,
    query: S.NoQuery,
    body: S.AllocateBody,
    responses: { 201: { description: 'allocated', schema: S.Allocation }, 200: { description: 'the holder already had it', schema: S.Allocation }, ...problems(400, 404, 409, 503) },
    async handle({ ipam, params, body, call }) {
      const { vm: _vm, vip: _vip, ...rest } = body;
      const r = await ipam.allocate({ cloud: params.cloud!, zone: params.zone!, pool: params.pool!, holder: holderOf(body), ...rest }, call);
      return json(r.created ? 201 : 200, r.allocation);
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations',
    operationId: 'listAllocations',
    tag: 'Allocations',
    summary: "A page of the pool's allocations in address order",
    params: P.pool,
    query: S.PageQuery,
    responses: { 200: { description: 'a page', schema: S.PageOf(S.Allocation) }, ...problems(400, 404) },
    async handle({ ipam, params, query }) {
      return json(200, await ipam.listAllocations(params.cloud!, params.zone!, params.pool!, query));
    },
  },
  // The allocation lifecycle after allocate, twice: under the cloud (cloud-wide grants) and under a zone,
  // where it reaches only that zone's allocations (another zone's address is 404, like a free one), so
  // that one grant on `clouds/{cloud}/zones/{zone}/*` expresses a zone pipeline (docs/operations.md).
  ...(['cloud', 'zone'] as const).flatMap((scope): Route[] => {
    const base = scope === 'cloud' ? '/v1/clouds/{cloud}' : '/v1/clouds/{cloud}/zones/{zone}';
    const where = scope === 'cloud' ? 'in the cloud' : 'in the zone';
    const scoped = (o: z.ZodRawShape) => z.object({ cloud: S.Name, ...(scope === 'zone' ? { zone: S.Name } : {}), ...o });
    const address = scoped({ address: z.string().min(1).max(64) });
    const id = (verb: string, noun: string) => (scope === 'cloud' ? `${verb}${noun}` : `${verb}Zone${noun}`);
    return [
      {
        method: 'GET',
        path: `${base}/addresses/{address}`,
        operationId: id('get', 'Address'),
        tag: 'Addresses',
        summary: `The allocation holding an address ${where} (any address inside a block finds the block)`,
        params: address,
        query: S.NoQuery,
        responses: { 200: { description: 'the allocation', schema: S.Allocation }, ...problems(400, 404) },
        async handle({ ipam, params }) {
          return json(200, await ipam.lookup(params.cloud!, params.address!, params.zone));
        },
      },
      {
        method: 'PATCH',
        path: `${base}/addresses/{address}`,
        operationId: id('update', 'Address'),
        tag: 'Addresses',
        summary: `Change the MAC, hostname, tags or metadata of an allocation ${where} (null removes mac/hostname; a MAC or hostname held by another allocation: 409)`,
        params: address,
        query: S.NoQuery,
        body: S.AllocationPatchBody,
        responses: { 200: { description: 'the changed allocation', schema: S.Allocation }, ...problems(400, 404, 409) },
        async handle({ ipam, params, body, call }) {
          return json(200, await ipam.updateAllocation(params.cloud!, params.address!, body, call, params.zone));
        },
      },
      {
        method: 'DELETE',
        path: `${base}/addresses/{address}`,
        operationId: id('release', 'Address'),
        tag: 'Addresses',
        summary: `Release an address ${where}; ?vm= or ?vip= guards against releasing somebody else’s`,
        description: 'With the header `Prefer: return=representation` the answer is 200 with the allocation as it was released (RFC 7240), so a caller learns what it released in the same request; otherwise 204.',
        params: address,
        query: S.HolderGuardQuery,
        responses: { 204: { description: 'released' }, 200: { description: 'released; with `Prefer: return=representation`: the allocation as it was', schema: S.Allocation }, ...problems(400, 404, 409) },
        async handle({ ipam, params, query, call, req }) {
          const guard = query.vm !== undefined ? { kind: 'vm' as const, id: query.vm } : query.vip !== undefined ? { kind: 'vip' as const, id: query.vip } : undefined;
          const released = await ipam.release(params.cloud!, params.address!, guard, call, params.zone);
          return prefersRepresentation(req) ? json(200, released, { 'preference-applied': 'return=representation' }) : empty();
        },
      },
      ...(['vm', 'vip'] as const).flatMap((kind): Route[] => [
        {
          method: 'GET',
          path: `${base}/${kind}s/{${kind}}/allocations`,
          operationId: id('list', `${kind === 'vm' ? 'Vm' : 'Vip'}Allocations`),
          tag: 'Holders',
          summary: `Everything a ${kind.toUpperCase()} holds ${where}`,
          params: scoped({ [kind]: S.HolderId }),
          query: S.NoQuery,
          responses: { 200: { description: 'allocations', schema: S.Items(S.Allocation) }, ...problems(400) },
          async handle({ ipam, params }) {
            return json(200, { items: await ipam.byHolder(params.cloud!, { kind, id: params[kind]! }, params.zone) });
          },
        },
        {
          method: 'DELETE',
          path: `${base}/${kind}s/{${kind}}/allocations`,
          operationId: id('release', `${kind === 'vm' ? 'Vm' : 'Vip'}Allocations`),
          tag: 'Holders',
          summary: `Release everything a ${kind.toUpperCase()} holds ${where}`,
          params: scoped({ [kind]: S.HolderId }),
          query: S.NoQuery,
          responses: { 200: { description: 'what was released', schema: z.object({ released: z.array(S.Allocation) }) }, ...problems(400) },
          async handle({ ipam, params, call }) {
            return json(200, { released: await ipam.releaseHolder(params.cloud!, { kind, id: params[kind]! }, call, params.zone) });
          },
        },
      ]),
    ];
  }),
  {
    method: 'PUT',
    path: '/v1/clouds/{cloud}/limits',
    operationId: 'setLimits',
    tag: 'Limits',
    summary: "Set the cloud's per-zone limits on the addresses a zone's pools may span (cloud-wide admins only; {zones: {}} turns them off)",
    params: P.cloud,
    query: S.NoQuery,
    body: S.LimitsBody,
    responses: { 200: { description: 'the limits now in force', schema: S.Limits }, ...problems(400) },
    async handle({ ipam, params, body, call }) {
      return json(200, await ipam.setLimits(params.cloud!, body, call));
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/limits',
    operationId: 'getLimits',
    tag: 'Limits',
    summary: "The cloud's per-zone limits",
    params: P.cloud,
    query: S.NoQuery,
    responses: { 200: { description: 'the limits', schema: S.Limits }, ...problems(400) },
    async handle({ ipam, params }) {
      return json(200, await ipam.getLimits(params.cloud!));
    },
  },
];

interface Compiled {
  route: Route;
  parts: string[];
}

/** Matches a decoded path against the route table. */
export class Router {
  private readonly compiled: Compiled[];
  constructor(
    readonly table: Route[],
    private readonly extra: Record<string, (req: ApiRequest) => ApiResponse | Promise<ApiResponse>> = {},
  ) {
    this.compiled = table.map((route) => ({ route, parts: route.path.split('/').slice(1) }));
  }

  match(method: string, segments: string[]): { route?: Route; params?: Record<string, string>; allowed: string[] } {
    const allowed: string[] = [];
    for (const c of this.compiled) {
      if (c.parts.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < c.parts.length && ok; i++) {
        const p = c.parts[i]!;
        if (p.startsWith('{')) params[p.slice(1, -1)] = segments[i]!;
        else ok = p === segments[i];
      }
      if (!ok) continue;
      if (c.route.method === method) return { route: c.route, params, allowed };
      allowed.push(c.route.method);
    }
    return { allowed };
  }

  async handle(services: Services, req: ApiRequest): Promise<ApiResponse> {
    try {
      const segments = splitPath(req.path);
      if (!segments) return problem(400, 'the path is not a valid URL path', 'InvalidInput');
      const special = this.extra[`${req.method} /${segments.join('/')}`];
      if (special) return await special(req);
      const { route, params, allowed } = this.match(req.method, segments);
      if (!route) {
        if (allowed.length) return { ...problem(405, `${req.method} is not allowed here; use ${allowed.join(', ')}`), headers: { 'content-type': 'application/problem+json', allow: allowed.join(', ') } };
        return problem(404, `no such resource: ${req.method} ${req.path.slice(0, 200)}`, 'NoSuchRoute');
      }
      const p = route.params.parse(params);
      const q = route.query.parse(singleValued(req.query));
      let body: unknown;
      if (route.body) {
        const ct = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
        if (ct !== 'application/json' && !ct.endsWith('+json')) return problem(415, `send the body as application/json, not ${ct.slice(0, 80)}`);
        if (req.body === null || req.body.trim() === '') return problem(400, 'this request needs a JSON body', 'InvalidInput');
        if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) return problem(413, `the body exceeds ${MAX_BODY_BYTES} bytes`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(req.body);
        } catch (e) {
          return problem(400, `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`, 'InvalidInput');
        }
        checkNoReservedKey(parsed); // before zod, which would drop the key silently
        body = route.body.parse(parsed);
      }
      return await route.handle({ ...services, params: p as Record<string, string>, query: q, body, call: { principal: req.principal, requestId: req.requestId }, req });
    } catch (e) {
      const r = errorResponse(e);
      if (r) return r;
      throw e;
    }
  }
}

function singleValued(q: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(q)) {
    if (Array.isArray(v)) {
      if (v.length !== 1) throw new z.ZodError([{ code: 'custom', path: [k], message: 'give this query parameter once', input: v }]);
      out[k] = v[0]!;
    } else out[k] = v;
  }
  return out;
}

/** Decodes `/a/b%20c/d` into segments; refuses `.`/`..`, empty segments and bad escapes. */
export function splitPath(path: string): string[] | undefined {
  if (!path.startsWith('/')) return undefined;
  const raw = path.slice(1).replace(/\/$/, '').split('/');
  const out: string[] = [];
  for (const s of raw) {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      return undefined;
    }
    if (d === '' || d === '.' || d === '..' || d.includes('/')) return undefined;
    out.push(d);
  }
  return out;
}
