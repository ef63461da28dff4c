/**
 * The local HTTP front door: does what API Gateway does with IAM auth (SigV4 verification,
 * trusted callers, path-scoped permissions), then calls the Lambda handler with a REST proxy event.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authorize, verifySigV4, type Caller } from '../auth/sigv4.js';
import { MAX_BODY_BYTES } from '../api/http.js';
import { splitPath } from '../api/routes.js';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface ApiServerOptions {
  port: number;
  host?: string;
  region: string;
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
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': requestId, 'x-amzn-errortype': status === 403 ? 'AccessDeniedException' : 'BadRequestException' });
  res.end(JSON.stringify({ message }));
}

export function buildEvent(method: string, path: string, query: string, headers: Record<string, string>, body: Buffer, caller: Caller, requestId: string): APIGatewayProxyEvent {
  const multi: Record<string, string[]> = Object.create(null); // a key named constructor or __proto__ is a key
  for (const [k, v] of new URLSearchParams(query)) (multi[k] ??= []).push(v);
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
  const server = createServer(async (req, res) => {
    const started = performance.now();
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = q >= 0 ? rawUrl.slice(q + 1) : '';
    let status = 500;
    let principal: string | undefined;
    try {
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === 'too-large') {
        status = 413;
        return gatewayError(res, 413, 'Request Too Long', requestId);
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
  return {
    server,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
