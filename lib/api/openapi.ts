/**
 * The OpenAPI 3.1 document, generated from the same route table and schemas that validate requests.
 *
 * Every operation declares every status and media type it can answer: its own, the function's shared
 * problem+json errors, and the shapes API Gateway itself answers with (`{message}`) before or instead of
 * the function. test/contract.ts checks each response the HTTP tests receive against this document.
 */
import { OpenApiGeneratorV31, OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import * as S from './schemas.js';
import type { Route } from './routes.js';

const PROBLEM = 'application/problem+json';
const problemRef = { $ref: '#/components/schemas/Problem' };
const gatewayRef = { $ref: '#/components/schemas/GatewayError' };

/**
 * Shared responses. `fn`: the function's problem+json; `edge`: API Gateway's (or the local server's) `{message}`.
 * Keyed by status; the name is the component's.
 */
const SHARED: Record<number, { name: string; description: string; fn?: boolean; edge?: boolean; retry?: boolean }> = {
  400: { name: 'BadRequest', description: 'invalid input (problem+json with a stable `reason`), or a request the edge refuses before the function (`{message}`: missing or duplicate Host header)', fn: true, edge: true },
  403: { name: 'Forbidden', description: 'API Gateway: a missing, invalid or expired signature, an untrusted caller, a grant that does not cover this path, or another host name', edge: true },
  404: { name: 'NotFound', description: 'no such resource (problem+json with a stable `reason`)', fn: true },
  409: { name: 'Conflict', description: 'the request conflicts with the current state (problem+json with a stable `reason`)', fn: true },
  413: { name: 'ContentTooLarge', description: 'the body exceeds 1 MiB: answered by the function (problem+json) or by the edge (`{message}`)', fn: true, edge: true },
  415: { name: 'UnsupportedMediaType', description: 'the body is not application/json', fn: true },
  429: { name: 'TooManyRequests', description: 'API Gateway stage throttling; retry with back-off', edge: true },
  500: { name: 'InternalError', description: 'an unexpected error: problem+json quoting the request id from the function, `{message}` from the edge', fn: true, edge: true },
  502: { name: 'BadGateway', description: 'API Gateway could not use the function’s answer', edge: true },
  503: { name: 'TooBusy', description: 'contention or DynamoDB throttling outlasted the retries; retry after Retry-After seconds', fn: true, retry: true },
  504: { name: 'GatewayTimeout', description: 'API Gateway’s integration timeout', edge: true },
};

/** Statuses every operation can answer, and those of operations with a body. */
const EVERY = [400, 403, 429, 500, 502, 503, 504];
const WITH_BODY = [413, 415];

function sharedResponse(code: number) {
  const r = SHARED[code]!;
  return {
    description: r.description,
    ...(r.retry ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' as const } } } } : {}),
    content: { ...(r.fn ? { [PROBLEM]: { schema: problemRef } } : {}), ...(r.edge ? { 'application/json': { schema: gatewayRef } } : {}) },
  };
}

export const TAGS = [
  { name: 'Pools', description: 'Address pools of a cloud and security zone: ranges, excludes, defaults, utilisation' },
  { name: 'Networks', description: "A zone's on-link subnets (gateway, DNS, NTP, MTU, VLAN, routes, DNS domain): every allocation of a pool in one carries it" },
  { name: 'Allocations', description: 'Allocating addresses from a pool and listing them' },
  { name: 'Addresses', description: 'One allocation found by its address (under the cloud, or only within a zone)' },
  { name: 'Holders', description: 'Everything a VM or VIP holds, and releasing it at once' },
  { name: 'Environments', description: 'Many addresses in one all-or-nothing call, as JSON or as a Heat environment file' },
  { name: 'Limits', description: 'Per-zone limits on the addresses pools may span' },
  { name: 'DNS', description: 'DNS zones generated from the allocations' },
  { name: 'DHCP', description: 'DHCP host reservations for Kea or dnsmasq' },
  { name: 'CloudInit', description: "A VM's cloud-init network-config (version 2, netplan) from the addresses it holds" },
  { name: 'Meta', description: 'This document' },
];

/** The IAM resource path a caller's grant must cover (what execute-api:Invoke and the local server's `allow` match). */
const grantPath = (path: string) => path.replace(/^\/v1\//, '');

export function openApiDocument(table: Route[], version: string) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'sigv4', {
    type: 'apiKey',
    name: 'Authorization',
    in: 'header',
    description: 'AWS Signature Version 4 for service execute-api (API Gateway IAM authorization)',
  });
  registry.register('Problem', S.Problem);
  registry.register('GatewayError', S.GatewayError);
  for (const [code, r] of Object.entries(SHARED)) registry.registerComponent('responses', r.name, sharedResponse(Number(code)));
  const ref = (code: number) => ({ $ref: `#/components/responses/${SHARED[code]!.name}` });

  for (const r of table) {
    const own: RouteConfig['responses'] = {};
    for (const [code, v] of Object.entries(r.responses)) {
      const c = Number(code);
      if (v.contentType === PROBLEM && SHARED[c]?.fn) own[code] = ref(c);
      else own[code] = { description: v.description, ...(v.schema || v.content ? { content: { ...(v.schema ? { [v.contentType ?? 'application/json']: { schema: v.schema } } : {}), ...Object.fromEntries(Object.entries(v.content ?? {}).map(([t, schema]) => [t, { schema }])) } } : {}) };
    }
    for (const c of [...EVERY, ...(r.body ? WITH_BODY : [])]) own[c] ??= ref(c);
    const config: RouteConfig = {
      method: r.method.toLowerCase() as RouteConfig['method'],
      path: r.path,
      operationId: r.operationId,
      tags: [r.tag],
      summary: r.summary,
      description: `${r.description ? `${r.description}\n\n` : ''}Signed with SigV4 (execute-api) by a trusted caller; a caller limited to paths needs a grant covering \`${grantPath(r.path)}\`.`,
      security: [{ sigv4: [] }],
      request: {
        params: r.params,
        ...(r.query instanceof z.ZodObject ? { query: r.query } : {}),
        ...(r.body ? { body: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: Object.fromEntries(Object.entries(own).sort(([a], [b]) => a.localeCompare(b))),
    };
    registry.registerPath(config);
  }
  registry.registerPath({
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['Meta'],
    summary: 'This OpenAPI document',
    description: 'The contract of the API, generated from the route table and the schemas that validate requests. Signed like every route.',
    security: [{ sigv4: [] }],
    responses: { 200: { description: 'the OpenAPI 3.1 document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } }, ...Object.fromEntries(EVERY.map((c) => [c, ref(c)])) },
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'IPAM',
      version,
      description: 'Static-looking IP addresses for VMs and VIPs, drawn from pools per cloud and security zone.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      {
        // Relative to where this document is served: /{stage}/v1/openapi.json behind API Gateway, so `..` is the
        // stage root (https://…/prod) and the paths (/v1/…) land under the stage; locally it is the server's root.
        url: '..',
        description: 'the API this document was fetched from (its stage root)',
      },
      {
        url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}',
        description: 'a deployed stage (the stack output ApiUrl)',
        variables: {
          restApiId: { default: 'abcdef1234', description: 'the REST API id' },
          region: { default: 'us-east-1' },
          stage: { default: 'prod', description: 'the stage name (IpamApi stageName)' },
        },
      },
      { url: 'http://127.0.0.1:{port}', description: 'the local service (npm start)', variables: { port: { default: '8080', description: 'IPAM_PORT' } } },
    ],
    tags: TAGS,
  });
}
