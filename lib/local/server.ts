/**
 * The local HTTP front door: does what API Gateway does with IAM auth (SigV4 verification,
 * trusted callers, path-scoped permissions), then calls the Lambda handler with a REST proxy event.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authorize, parseQuery, verifySigV4, type Caller, type ParsedQuery } from '../auth/sigv4.js';
import { MAX_BODY_BYTES } from '../api/http.js';
import { splitPath } from '../api/routes.js';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface ApiServerOptions {
  port: number;
  host?: string;
  region: string;
  /**
   * Further names this endpoint answers to in the Host header (a proxy's or DNS name in front of
   * it), `name` or `name:port`, matched exactly apart from case. Requests naming another host get 403.
   */
  publicHosts?: string[];
  lookup: (accessKeyId: string) => Caller | undefined;
  handler: ProxyHandler;
  onRequest?: (line: { method: string; path: string; status: number; principal?: string; ms: number; requestId: string }) => void;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function gatewayError(res: ServerResponse, status: number, message: string, requestId: string) {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId, 'x-amzn-errortype': status === 403 ? 'AccessDeniedException' : 'BadRequestException' });
  res.end(body);
}

/**
 * The Host values this endpoint answers to, as API Gateway answers only for its own domain names:
 * `address:port` of the listening address (for a wildcard bind, of every local interface address),
 * `localhost:port` when loopback is reachable, and the configured public names. Port 80 may be left out.
 */
export function endpointHosts(bindHost: string, port: number, publicHosts: string[] = []): Set<string> {
  const unspecified = bindHost === '0.0.0.0' || bindHost === '::';
  const addresses = new Set<string>([bindHost]);
  if (unspecified) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (bindHost === '::' || a.family === 'IPv4') addresses.add(a.address.replace(/%.*$/, ''));
  }
  const loopback = [...addresses].some((a) => a === 'localhost' || a === '::1' || a.startsWith('127.'));
  if (loopback) addresses.add('localhost');
  const hosts = new Set<string>();
  for (const a of addresses) {
    const name = isIP(a) === 6 ? `[${a}]` : a;
    hosts.add(`${name}:${port}`.toLowerCase());
    if (port === 80) hosts.add(name.toLowerCase());
  }
  for (const h of publicHosts) if (h.trim()) hosts.add(h.trim().toLowerCase());
  return hosts;
}

/** The request's Host values as sent (Node keeps only the first of duplicates in `req.headers`). */
function hostHeaders(req: IncomingMessage): string[] {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') values.push(req.rawHeaders[i + 1]!);
  return values;
}

/** The Host check, before the signature (as API Gateway routes by host first): undefined when the request is for this endpoint. */
function hostProblem(req: IncomingMessage, hosts: Set<string>): { status: 400 | 403; message: string } | undefined {
  const values = hostHeaders(req);
  if (values.length === 0) return { status: 400, message: 'Missing Host header' };
  if (values.length > 1) return { status: 400, message: 'Duplicate Host header' };
  if (!hosts.has(values[0]!.trim().toLowerCase())) return { status: 403, message: 'Forbidden' };
  return undefined;
}

/** The REST proxy event API Gateway would send; its query parameters come from the request's one parse. */
export function buildEvent(method: string, path: string, query: ParsedQuery, headers: Record<string, string>, body: Buffer, caller: Caller, requestId: string): APIGatewayProxyEvent {
  const multi: Record<string, string[]> = Object.create(null);
  for (const [k, v] of query.pairs) (multi[k] ??= []).push(v);
  const single = Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v[v.length - 1]!]));
  return {
    httpMethod: method,
    path,
    resource: '/{proxy+}',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(single).length ? single : null,
    multiValueQueryStringParameters: Object.keys(multi).length ? multi : null,
    pathParameters: { proxy: path.replace(/^\//, '') },
    stageVariables: null,
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      requestId,
      httpMethod: method,
      path,
      stage: 'local',
      resourcePath: '/{proxy+}',
      identity: { userArn: caller.principal, caller: caller.principal, accessKey: caller.accessKeyId } as APIGatewayProxyEvent['requestContext']['identity'],
    } as APIGatewayProxyEvent['requestContext'],
  } as APIGatewayProxyEvent;
}

export async function startApiServer(opts: ApiServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  let hosts = new Set<string>();
  const server = createServer(async (req, res) => {
    const started = performance.now();
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    // Parsed once: the verifier's canonical query and the handler's parameters are this one parse.
    const query = parseQuery(q >= 0 ? rawUrl.slice(q + 1) : '');
    let status = 500;
    let principal: string | undefined;
    try {
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === 'too-large') {
        status = 413;
        return gatewayError(res, 413, 'Request Too Long', requestId);
      }
      const wrongHost = hostProblem(req, hosts);
      if (wrongHost) {
        status = wrongHost.status;
        return gatewayError(res, wrongHost.status, wrongHost.message, requestId);
      }
      const verdict = verifySigV4({ method, path, query, headers: req.headers, body }, opts.lookup, { region: opts.region });
      if (!verdict.ok) {
        status = 403;
        return gatewayError(res, 403, verdict.message, requestId);
      }
      principal = verdict.caller.principal;
      const segments = splitPath(path);
      const resource = segments ? segments.slice(segments[0] === 'v1' ? 1 : 0).join('/') : path;
      const allowed = authorize(verdict.caller, method, resource);
      if (!allowed.ok) {
        status = 403;
        return gatewayError(res, 403, allowed.message, requestId);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
      const out = await opts.handler(buildEvent(method, path, query, headers, body, verdict.caller, requestId));
      status = out.statusCode;
      res.writeHead(out.statusCode, { ...(out.headers as Record<string, string>), 'x-amzn-requestid': requestId });
      res.end(out.body);
    } catch (e) {
      status = 500;
      if (!res.headersSent) gatewayError(res, 500, 'Internal server error', requestId);
      else res.destroy();
      console.error(e);
    } finally {
      opts.onRequest?.({ method, path, status, ...(principal ? { principal } : {}), ms: performance.now() - started, requestId });
    }
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  hosts = endpointHosts(opts.host ?? '127.0.0.1', port, opts.publicHosts);
  return {
    server,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
