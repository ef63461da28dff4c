/**
 * The contract check of every HTTP answer the tests receive: the status must be declared for the
 * operation (method + path template) in the OpenAPI document as it is served, the media type declared
 * for that status, and the body valid against the declared schema (ajv, JSON Schema 2020-12 as in OAS 3.1).
 * A request that matches no operation may only get the router's or the edge's refusals.
 * `checkedFetch` is a drop-in fetch for the tests and the IpamClient's transport (test/service.ts).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { API_VERSION, router } from '../lib/api/lambda.js';
import type { Services } from '../lib/api/routes.js';

type Doc = { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, ResponseObj> } };
type ResponseObj = { description: string; content?: Record<string, { schema: unknown }>; $ref?: string };
type Operation = { operationId: string; responses: Record<string, ResponseObj> };

let loaded: { doc: Doc; ajv: Ajv2020; ops: { method: string; parts: string[]; op: Operation; path: string }[] } | undefined;
const validators = new Map<string, ValidateFunction>();

/** The document exactly as GET /v1/openapi.json serves it (the same router; that route touches no table). */
export async function servedDocument(): Promise<any> {
  const res = await router.handle(undefined as unknown as Services, { method: 'GET', path: '/v1/openapi.json', query: {}, headers: {}, body: null, principal: 'contract', requestId: 'contract' });
  if (res.status !== 200) throw new Error(`GET /v1/openapi.json answered ${res.status}`);
  const doc = JSON.parse(res.body);
  if (doc.info.version !== API_VERSION) throw new Error('unexpected document version');
  return doc;
}

async function contract() {
  if (loaded) return loaded;
  const doc = (await servedDocument()) as Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  const ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), parts: path.split('/').slice(1), op, path })));
  return (loaded = { doc, ajv, ops });
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function validator(ajv: Ajv2020, ref: string) {
  let v = validators.get(ref);
  if (!v) validators.set(ref, (v = ajv.compile({ $ref: ref })));
  return v;
}

/** The operation a request meets: same method, same segment count, most literal segments. */
function findOperation(ops: NonNullable<typeof loaded>['ops'], method: string, path: string) {
  const segs = path.replace(/^\//, '').replace(/\/$/, '').split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  let best: (typeof ops)[number] | undefined;
  let bestScore = -1;
  for (const o of ops) {
    if (o.method !== method || o.parts.length !== segs.length) continue;
    let score = 0;
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      if (o.parts[i]!.startsWith('{')) continue;
      if (o.parts[i] === segs[i]) score++;
      else ok = false;
    }
    if (ok && score > bestScore) [best, bestScore] = [o, score];
  }
  return best;
}

/** What a request that matches no operation may get: the router's 400/404/405 or the edge's refusals. */
const UNROUTED: Record<number, string[]> = { 400: ['application/problem+json', 'application/json'], 403: ['application/json'], 404: ['application/problem+json'], 405: ['application/problem+json'], 413: ['application/problem+json', 'application/json'] };

/** Throws when an answer is not what the document declares. */
export async function checkResponse(method: string, url: string, status: number, contentType: string | null, body: string) {
  const { doc, ajv, ops } = await contract();
  const path = new URL(url, 'http://x').pathname;
  const where = `${method} ${path} → ${status} ${contentType ?? '(no content-type)'}`;
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const found = findOperation(ops, method.toUpperCase(), path);
  let schemaRef: string;
  if (!found) {
    if (!UNROUTED[status]?.includes(media)) throw new Error(`contract: ${where} matches no operation and is not a declared refusal\n${body.slice(0, 300)}`);
    schemaRef = media === 'application/json' ? 'openapi.json#/components/schemas/GatewayError' : 'openapi.json#/components/schemas/Problem';
  } else {
    const code = String(status);
    const declared = found.op.responses[code] ? code : found.op.responses[`${code[0]}XX`] ? `${code[0]}XX` : found.op.responses.default ? 'default' : undefined;
    if (!declared) throw new Error(`contract: ${where}: status ${status} is not declared for ${found.op.operationId} (declared: ${Object.keys(found.op.responses).join(', ')})\n${body.slice(0, 300)}`);
    let res = found.op.responses[declared]!;
    let base = pointer('paths', found.path, method.toLowerCase(), 'responses', declared);
    if (res.$ref) {
      const name = res.$ref.split('/').pop()!;
      res = doc.components.responses[name]!;
      base = pointer('components', 'responses', name);
    }
    if (!res.content) {
      if (body !== '') throw new Error(`contract: ${where}: ${found.op.operationId} declares no content for ${status}, got a body\n${body.slice(0, 300)}`);
      return;
    }
    if (!res.content[media]) throw new Error(`contract: ${where}: media type ${media || '(none)'} is not declared for ${found.op.operationId} ${status} (declared: ${Object.keys(res.content).join(', ')})`);
    schemaRef = `openapi.json#/${base}/${pointer('content', media, 'schema')}`;
  }
  if (method.toUpperCase() === 'HEAD') return; // an answer to HEAD has no body (RFC 9110 9.3.2): status and media type only
  const json = media === 'application/json' || media.endsWith('+json');
  let value: unknown = body;
  if (json) {
    try {
      value = JSON.parse(body);
    } catch {
      throw new Error(`contract: ${where}: the body is not JSON\n${body.slice(0, 300)}`);
    }
  }
  const v = validator(ajv, schemaRef);
  if (!v(value)) throw new Error(`contract: ${where}: the body does not match ${schemaRef.replace('openapi.json#/', '')}: ${ajv.errorsText(v.errors)}\n${body.slice(0, 300)}`);
}

/** fetch, then the contract check of the answer (the returned Response carries the same status, headers and body). */
export const checkedFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const res = await fetch(input, init);
  const body = await res.text();
  await checkResponse(method, url, res.status, res.headers.get('content-type'), body);
  return new Response(res.status === 204 || res.status === 304 ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
};
