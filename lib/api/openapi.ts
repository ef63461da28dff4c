/**
 * The OpenAPI 3.1 document, generated from the same route table and schemas that validate requests.
 */
import { OpenApiGeneratorV31, OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import * as S from './schemas.js';
import type { Route } from './routes.js';

export function openApiDocument(table: Route[], version: string) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'sigv4', {
    type: 'apiKey',
    name: 'Authorization',
    in: 'header',
    description: 'AWS Signature Version 4 for service execute-api (API Gateway IAM authorization)',
  });
  for (const r of table) {
    const config: RouteConfig = {
      method: r.method.toLowerCase() as RouteConfig['method'],
      path: r.path,
      summary: r.summary,
      security: [{ sigv4: [] }],
      request: {
        params: r.params,
        ...(r.query instanceof z.ZodObject ? { query: r.query } : {}),
        ...(r.body ? { body: { content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: {
        ...Object.fromEntries(
          Object.entries(r.responses).map(([code, v]) => [code, { description: v.description, ...(v.schema ? { content: { [v.contentType ?? 'application/json']: { schema: v.schema } } } : {}) }]),
        ),
        403: { description: 'missing, invalid or expired signature, or a caller that is not trusted', content: { 'application/json': { schema: S.GatewayError } } },
      },
    };
    registry.registerPath(config);
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'IPAM', version, description: 'Static-looking IP addresses for VMs and VIPs, drawn from pools per cloud and security zone.' },
    servers: [{ url: '/' }],
  });
}
