/**
 * API Gateway REST proxy events in, proxy results out. The local service calls this same
 * function with events it builds after verifying the SigV4 signature itself.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { AUTH_QUERY_PARAMS, isPresignedQuery } from '../auth/sigv4.js';
import { logger } from '../runtime/logger.js';
import { json, problem, type ApiRequest } from './http.js';
import { routes as coreRoutes, Router, type Services } from './routes.js';
import { cloudInitRoutes } from './routes-cloud-init.js';
import { environmentRoutes } from './routes-environments.js';
import { integrationRoutes } from './routes-integrations.js';
import { networkRoutes } from './routes-networks.js';
import { zoneAllocationRoutes } from './routes-zone-allocations.js';

export const API_VERSION = '1.0.0';

export const routes = [...coreRoutes, ...zoneAllocationRoutes, ...networkRoutes, ...environmentRoutes, ...integrationRoutes, ...cloudInitRoutes];

let openapi: unknown;
export const router = new Router(routes, {
  // The generator (zod-to-openapi) is loaded on first use: a rare route, kept out of the Lambda's module init.
  'GET /v1/openapi.json': async () => json(200, (openapi ??= (await import('./openapi.js')).openApiDocument(routes, API_VERSION))),
});

export function toApiRequest(event: APIGatewayProxyEvent): ApiRequest {
  // Null-prototype maps: `?constructor=` or `?__proto__=` must neither find nor replace Object.prototype.
  const headers: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of Object.entries(event.multiValueQueryStringParameters ?? {})) if (v) query[k] = v.length === 1 ? v[0]! : v;
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined && !(k in query)) query[k] = v;
  // A presigned URL: API Gateway (or the local server) verified its X-Amz-* parameters; they are not the API's.
  if (isPresignedQuery(Object.keys(query))) for (const k of AUTH_QUERY_PARAMS) delete query[k];
  const identity = event.requestContext?.identity;
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    query,
    headers,
    body: event.body === null || event.body === undefined ? null : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
    principal: identity?.userArn ?? identity?.caller ?? 'anonymous',
    requestId: event.requestContext?.requestId ?? 'none',
  };
}

/**
 * The API's Lambda handler over the services `services` gives (built once, at the composition root).
 * With a Lambda `context` (on AWS), log lines carry its request id and cold start; the local service
 * calls it without one.
 */
export function createApiHandler(services: () => Services | Promise<Services>) {
  return async (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    if (context) logger.addContext(context);
    const req = toApiRequest(event);
    let res;
    try {
      res = await router.handle(await services(), req);
    } catch (e) {
      logger.error('unhandled error', { error: e as Error, method: req.method, path: req.path, requestId: req.requestId });
      res = problem(500, `internal error; quote request id ${req.requestId}`);
    }
    return { statusCode: res.status, headers: { ...res.headers, 'x-amzn-requestid': req.requestId }, body: res.body };
  };
}
